from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.db import connection

from tests.factories import UserFactory

pytest_plugins = ["tests.celery_worker", "tests.plugins.devcluster", "tests.plugins.registry"]


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


@pytest.fixture(autouse=True)
def _own_rate_counters(settings: Any) -> None:
    # Sign-in, token and API rate counters live in the shared (Redis) cache, keyed by
    # address and name, and 127.0.0.1 and the factories' names repeat in every test and
    # every run: each test counts under a prefix of its own.
    api_cache = dict(settings.CACHES["api"], KEY_PREFIX=f"test-{uuid.uuid4().hex}")
    settings.CACHES = {**settings.CACHES, "api": api_cache}


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


class TaskQueue:
    """Tasks the code under test queued by name (driftcontrol.queue.send), kept here
    instead of reaching a broker; a handler set with `run` does a task's work in place."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, tuple[object, ...]]] = []
        self._queued: dict[str, list[object]] = {}
        self._handlers: dict[str, object] = {}

    def send(self, task_name: str, *args: object) -> None:
        self.sent.append((task_name, args))
        self.queued(task_name).append(args[0] if len(args) == 1 else args)
        handler = self._handlers.get(task_name)
        if handler is not None:
            handler(*args)  # type: ignore[operator]

    def run(self, task_name: str, handler: object) -> None:
        self._handlers[task_name] = handler

    def queued(self, task_name: str) -> list[object]:
        """The arguments of each send of the task (the one argument, for one-argument
        tasks), as a list that grows as the code queues more."""
        return self._queued.setdefault(task_name, [])


@pytest.fixture
def tasks(monkeypatch: pytest.MonkeyPatch) -> TaskQueue:
    queue = TaskQueue()
    monkeypatch.setattr("driftcontrol.queue.send", queue.send)
    return queue
