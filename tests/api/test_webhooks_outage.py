"""Events published while the broker and the workers are down wait in the outbox table
and are delivered once they are back: a real Redis (our own, so stopping it disturbs no
other test), a real Celery worker, a real receiver."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from celery import Celery
from kombu.exceptions import OperationalError

from driftcontrol import webhooks
from driftcontrol.models import OutboxEvent, WebhookDelivery
from driftcontrol.outbox import publish
from tests.api.test_webhooks import SECRET, verify
from tests.celery_worker import WorkerProcess

pytestmark = [pytest.mark.celery, pytest.mark.django_db(transaction=True)]


class Redis:
    """A redis-server of our own on a free port, started and stopped by the test."""

    def __init__(self, directory: Path) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.directory = directory
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is needed (scripts/services installs it)"
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)
        pytest.fail("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


@pytest.fixture
def broker(tmp_path) -> Iterator[Redis]:
    redis = Redis(tmp_path)
    yield redis
    redis.stop()


def beat_tick(url: str, **options: object) -> None:
    """Send what beat sends every few seconds, to the broker at ``url``. (The connection
    is explicit: Celery prefers CELERY_BROKER_URL, the suite's Redis, to a broker= it is
    given.)"""
    app = Celery("beat", set_as_current=False)  # the suite's other tests keep their app
    with app.connection_for_write(url) as connection:
        app.send_task("webhooks.dispatch", queue="default", connection=connection, **options)


def test_an_event_published_while_the_broker_is_down_is_delivered_when_it_returns(
    broker, receiver, private_targets, tmp_path
):
    webhooks.subscribe("cli:test", "tickets", receiver.url, ["finding.opened"], SECRET)

    # Broker and workers down: the change and its event still commit, and beat's tick
    # cannot even be sent.
    event = publish("finding.opened", {"finding": {"id": 7}})
    with pytest.raises(OperationalError):
        beat_tick(broker.url, retry=False)
    assert list(OutboxEvent.objects.pending()) == [event]

    broker.start()
    worker = WorkerProcess(
        tmp_path / "worker.log",
        env={
            "CELERY_BROKER_URL": broker.url,
            "CELERY_RESULT_BACKEND": broker.url,
            "WEBHOOK_ALLOW_PRIVATE_TARGETS": "1",
        },
    )
    worker.start()
    try:
        beat_tick(broker.url)
        [request] = receiver.wait_for(1, timeout=60)
    finally:
        worker.stop()

    assert request.json()["id"] == str(event.pk)
    assert verify(SECRET, request.headers["X-DriftControl-Signature"], request.body)
    time.sleep(0.5)  # nothing else follows
    assert len(receiver.requests) == 1
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("succeeded", 1)
