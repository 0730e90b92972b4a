"""A real Celery worker process for tests: consumes from Redis, writes to the test database.

Tests that use it must commit their data (`transaction=True`), since the worker reads the
database through its own connection.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import connection

from driftcontrol.celery import QUEUES, app

ROOT = Path(__file__).resolve().parent.parent


def _database_url() -> str:
    db = connection.settings_dict
    user = db["USER"] or "postgres"
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    return (
        f"postgres://{user}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    )


class WorkerProcess:
    def __init__(self, log: Path, env: dict[str, str] | None = None, pool: str = "solo") -> None:
        self.log = log
        self.name = f"test-{uuid.uuid4().hex[:8]}@%h"
        self.process: subprocess.Popen[bytes] | None = None
        self.env, self.pool = env or {}, pool

    def start(self) -> None:
        env = {
            **os.environ,
            "DATABASE_URL": _database_url(),
            "DATABASE_CONN_MAX_AGE": "0",
            **self.env,
        }
        command = [
            str(Path(sys.executable).parent / "celery"),
            "-A",
            "driftcontrol",
            "worker",
            "--pool",
            self.pool,
            "--concurrency",
            "1",
            "-Q",
            ",".join(QUEUES),
            "-n",
            self.name,
            "--loglevel",
            "INFO",
            "--without-mingle",
            "--without-gossip",
        ]
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,  # kill() takes the worker and its pool children at once
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"the Celery worker exited at start:\n{self.log.read_text()}")
            if " ready." in self.log.read_text(errors="replace"):
                return
            time.sleep(0.2)
        pytest.fail(f"the Celery worker was not ready within 60 s:\n{self.log.read_text()}")

    def kill(self) -> None:
        """SIGKILL the worker and its children: no warm shutdown, no acknowledgement."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture(scope="session")
def celery_worker(
    django_db_setup: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WorkerProcess]:
    """A worker consuming every queue, started once per test session (per xdist worker)."""
    broker = settings.CELERY_BROKER_URL
    assert broker.startswith("redis"), f"Celery round-trips run through Redis, not {broker}"
    # Messages left by an interrupted earlier run would be executed against this database.
    redis.Redis.from_url(broker).flushdb()
    worker = WorkerProcess(tmp_path_factory.mktemp("celery") / "worker.log")
    worker.start()
    app.connection_for_write().ensure_connection(max_retries=3)
    yield worker
    worker.stop()
