"""Encryption at rest for credentials (MultiFernet over FIELD_ENCRYPTION_KEYS).

The first key encrypts; every key decrypts. Rotation: put a new key first, run
`manage.py drift keys rotate` (re-encrypts every sealed value with it), then drop the old key.
"""

from __future__ import annotations

from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.signals import setting_changed
from django.db import models
from django.dispatch import receiver


class UnreadableSecret(Exception):
    """A sealed value that none of the configured keys can open."""


@cache
def _fernet() -> MultiFernet:
    return MultiFernet([Fernet(key.encode()) for key in settings.FIELD_ENCRYPTION_KEYS])


@receiver(setting_changed)
def _forget_keys(setting: str, **kwargs: object) -> None:
    if setting == "FIELD_ENCRYPTION_KEYS":
        _fernet.cache_clear()


def seal(plaintext: str) -> str:
    """Encrypt ``plaintext`` with the first key; the result is ASCII, safe for a text column."""
    return _fernet().encrypt(plaintext.encode()).decode("ascii")


def unseal(token: str, what: str = "value") -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise UnreadableSecret(
            f"{what} was encrypted with a key that is not in FIELD_ENCRYPTION_KEYS "
            "(was a key removed before `drift keys rotate` ran?)"
        ) from None


def reseal(token: str, what: str = "value") -> str:
    """Re-encrypt with the current first key (key rotation)."""
    try:
        return _fernet().rotate(token.encode()).decode("ascii")
    except InvalidToken:
        raise UnreadableSecret(f"{what} cannot be decrypted with any configured key") from None


class SealedTextField(models.TextField):  # type: ignore[type-arg]
    """Holds a Fernet token, never plaintext. Read it with ``unseal``; never render it.

    The field does no conversion on purpose: decrypting on every load would put secrets in
    memory (and in tracebacks) wherever a row is fetched, and one lost key would make the
    whole table unreadable instead of only the credentials.
    """

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("blank", True)
        kwargs.setdefault("default", "")
        kwargs.setdefault("editable", False)
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
