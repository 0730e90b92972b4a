from __future__ import annotations

import pytest
from django.db import connection

from tests.factories import UserFactory

pytest_plugins = ["tests.celery_worker", "tests.plugins.devcluster"]


@pytest.fixture(scope="session", autouse=True)
def _suite_runs_on_postgresql(django_db_setup: None, django_db_blocker: object) -> None:
    # The product's guarantees (row locks, partial unique indexes, triggers) are tested
    # where they matter; SQLite would let some of these tests pass for the wrong reason.
    assert connection.vendor == "postgresql", (
        "the test suite runs against PostgreSQL: run it with `make test`, or set DATABASE_URL"
    )


@pytest.fixture(autouse=True)
def _fast_passwords(settings: object) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # type: ignore[attr-defined]


@pytest.fixture
def viewer(db: None) -> object:
    return UserFactory(username="vera", role="viewer")


@pytest.fixture
def operator(db: None) -> object:
    return UserFactory(username="oscar", role="operator")


@pytest.fixture
def requester(db: None) -> object:
    return UserFactory(username="rita", role="operator")


@pytest.fixture
def approver(db: None) -> object:
    return UserFactory(username="anna", role="approver")


@pytest.fixture
def second_approver(db: None) -> object:
    return UserFactory(username="bert", role="approver")


@pytest.fixture
def admin_user(db: None) -> object:
    return UserFactory(username="ada", role="admin")


@pytest.fixture
def outsider(db: None) -> object:
    """Signed in, but holding no role."""
    return UserFactory(username="charlie")
