"""Reading settings from environment variables, loudly.

Every reader names the variable and says what was wrong, so a typo in a deployment
fails at start with one clear line instead of surfacing later as odd behaviour.
Every variable read here is recorded in ``KNOWN``, which the docker-compose test uses
to prove that the compose file sets nothing the settings ignore.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import urlsplit

import environ
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

T = TypeVar("T")

KNOWN: dict[str, str] = {}
"""Variable name -> one-line description, filled as settings read them."""

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _raw(name: str, doc: str) -> str | None:
    KNOWN[name] = doc
    value = os.environ.get(name)
    return None if value is None else value.strip()


def _fail(name: str, value: str, reason: str) -> ImproperlyConfigured:
    shown = value if len(value) <= 60 else value[:57] + "..."
    return ImproperlyConfigured(f"{name}={shown!r} is invalid: {reason}")


def boolean(name: str, default: bool, doc: str) -> bool:
    value = _raw(name, doc)
    if value is None:
        return default
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise _fail(name, value, "expected one of 1/0, true/false, yes/no, on/off")


def string(name: str, default: str, doc: str) -> str:
    value = _raw(name, doc)
    return default if value is None or value == "" else value


def integer(name: str, default: int, doc: str, minimum: int | None = None) -> int:
    value = _raw(name, doc)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise _fail(name, value, "expected a whole number") from None
    if minimum is not None and number < minimum:
        raise _fail(name, value, f"must be at least {minimum}")
    return number


_RATE = re.compile(r"[1-9]\d*/(second|minute|hour|day|s|m|h|d)")


def rate(name: str, default: str, doc: str) -> str:
    """A throttle rate as Django REST framework reads it: `N/second|minute|hour|day`."""
    value = string(name, default, doc)
    if not _RATE.fullmatch(value):
        raise _fail(name, value, "expected N/second, N/minute, N/hour or N/day")
    return value


def string_list(name: str, default: list[str], doc: str) -> list[str]:
    value = _raw(name, doc)
    if value is None:
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


def choice(name: str, default: str, choices: tuple[str, ...], doc: str) -> str:
    value = string(name, default, doc)
    if value not in choices:
        raise _fail(name, value, f"expected one of {', '.join(choices)}")
    return value


_DATABASE_SCHEMES = ("postgres", "postgresql", "pgsql", "sqlite")


def database(name: str, default: str, doc: str) -> dict[str, object]:
    """A Django DATABASES entry from a URL; only the engines this product supports."""
    value = string(name, default, doc)
    scheme = urlsplit(value).scheme
    if scheme not in _DATABASE_SCHEMES:
        raise _fail(
            name,
            value,
            "expected postgres://USER:PASSWORD@HOST:PORT/NAME or sqlite:////absolute/path.db",
        )
    config: dict[str, object] = dict(environ.Env.db_url_config(value))
    if not config.get("NAME"):
        raise _fail(name, value, "the URL names no database")
    return config


_BROKER_SCHEMES = ("redis", "rediss", "filesystem", "memory")


def broker_url(name: str, default: str, doc: str) -> str:
    value = string(name, default, doc)
    scheme = urlsplit(value).scheme
    if scheme not in _BROKER_SCHEMES:
        raise _fail(name, value, "expected redis://HOST:PORT/DB or filesystem://")
    return value


def fernet_keys(name: str, default: list[str] | None, doc: str) -> list[str]:
    """Comma-separated Fernet keys: the first encrypts, all of them decrypt."""
    value = _raw(name, doc)
    if value is None or value == "":
        if default is None:
            raise ImproperlyConfigured(
                f"{name} is not set. It encrypts cluster credentials at rest; generate one "
                "with `python manage.py drift keys generate` (keep it secret, keep it safe)."
            )
        return default
    keys = [key.strip() for key in value.split(",") if key.strip()]
    for index, key in enumerate(keys, start=1):
        _validated(name, key, index)
    return keys


def _validated(name: str, key: str, index: int) -> None:
    try:
        Fernet(key.encode())
    except (ValueError, TypeError):
        raise ImproperlyConfigured(
            f"{name}: key #{index} is not a Fernet key "
            "(expected 32 bytes in url-safe base64, 44 characters)"
        ) from None


def required(name: str, doc: str, when: bool, reason: str, fallback: Callable[[], T]) -> str | T:
    """A value that may only fall back to a default when ``when`` holds (e.g. DEBUG)."""
    value = _raw(name, doc)
    if value:
        return value
    if when:
        return fallback()
    raise ImproperlyConfigured(f"{name} is not set; {reason}")
