"""Settings fail at start, naming the variable and what was wrong."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from driftcontrol import env

ROOT = Path(__file__).resolve().parents[2]
GOOD_KEY = "dGVzdC1rZXktb25lLWZvci10aGUtdGVzdC1zdWl0ZSE="


def load_settings(**variables: str) -> subprocess.CompletedProcess[str]:
    """Import the settings in a fresh interpreter with exactly these variables."""
    clean = {
        k: v for k, v in os.environ.items() if k not in env.KNOWN and k != "DJANGO_SETTINGS_MODULE"
    }
    clean["DRIFTCONTROL_VAR_DIR"] = variables.pop("DRIFTCONTROL_VAR_DIR", "/tmp/dc-settings-test")
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import driftcontrol.settings as s; "
            "print(s.DATABASES['default']['ENGINE'], s.CELERY_BROKER_URL, s.DEBUG)",
        ],
        cwd=ROOT,
        env={**clean, **variables},
        capture_output=True,
        text=True,
    )


def test_it_starts_in_embedded_mode_with_debug_and_nothing_else():
    result = load_settings(DEBUG="1")

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["django.db.backends.sqlite3", "filesystem://", "True"]


def test_it_refuses_to_start_in_production_without_a_secret_key():
    result = load_settings(FIELD_ENCRYPTION_KEYS=GOOD_KEY)

    assert result.returncode != 0
    assert "ImproperlyConfigured: SECRET_KEY is not set" in result.stderr


def test_it_refuses_to_start_in_production_without_encryption_keys():
    result = load_settings(SECRET_KEY="s" * 50)

    assert "ImproperlyConfigured: FIELD_ENCRYPTION_KEYS is not set" in result.stderr


def test_it_uses_postgresql_and_redis_when_told_to():
    result = load_settings(
        SECRET_KEY="s" * 50,
        FIELD_ENCRYPTION_KEYS=GOOD_KEY,
        DATABASE_URL="postgres://u:p@db.example:5432/drift",
        CELERY_BROKER_URL="redis://cache.example:6379/2",
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "django.db.backends.postgresql",
        "redis://cache.example:6379/2",
        "False",
    ]


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("DEBUG", "maybe", "DEBUG='maybe' is invalid: expected one of 1/0"),
        ("DATABASE_URL", "mysql://x/y", "DATABASE_URL='mysql://x/y' is invalid"),
        (
            "DATABASE_URL",
            "postgres://host:5432/",
            "DATABASE_URL='postgres://host:5432/' is invalid: the URL names no database",
        ),
        ("CELERY_BROKER_URL", "amqp://rabbit//", "CELERY_BROKER_URL='amqp://rabbit//' is invalid"),
        (
            "FIELD_ENCRYPTION_KEYS",
            f"{GOOD_KEY},not-a-key",
            "FIELD_ENCRYPTION_KEYS: key #2 is not a Fernet key",
        ),
        ("LOG_LEVEL", "LOUD", "LOG_LEVEL='LOUD' is invalid: expected one of DEBUG"),
        ("SECURE_COOKIES", "sometimes", "SECURE_COOKIES='sometimes' is invalid"),
    ],
)
def test_a_malformed_value_names_the_variable_and_the_problem(variable, value, message):
    result = load_settings(**{"DEBUG": "1", variable: value})

    assert result.returncode != 0
    assert f"ImproperlyConfigured: {message}" in result.stderr


def test_integers_are_checked_against_their_minimum(monkeypatch):
    monkeypatch.setenv("DATABASE_CONN_MAX_AGE", "-5")

    with pytest.raises(
        ImproperlyConfigured, match="DATABASE_CONN_MAX_AGE='-5' is invalid: must be at least 0"
    ):
        env.integer("DATABASE_CONN_MAX_AGE", 60, "doc", minimum=0)


def test_lists_are_comma_separated_and_trimmed(monkeypatch):
    monkeypatch.setenv("ALLOWED_HOSTS", " a.example , b.example,,")

    assert env.string_list("ALLOWED_HOSTS", [], "doc") == ["a.example", "b.example"]


def test_every_variable_read_is_documented_in_the_readme():
    readme = (ROOT / "README.md").read_text()

    undocumented = [name for name in env.KNOWN if f"`{name}`" not in readme]

    assert undocumented == []
