"""Decisions recorded off the hot path: the server hands each decision to `submit`, which
only puts it in a bounded queue, and a thread writes what queued every
ADMISSION_HEARTBEAT_SECONDS (sooner at FLUSH_AT queued), with the server's heartbeat, in
one transaction (alignment.admission.recording).

Nothing here may slow an answer or stop the server. A full queue drops decisions and
counts them (said in the log once a minute). A database that does not answer keeps the
batch, which holds no request bodies and at most KEPT_LIMIT decisions to keep, and the
thread tries again, waiting longer each time (up to BACKOFF_LIMIT). Images let through
unverified go to a worker (admission.verify_images) from a thread of their own, at most
once per cluster, lane and image every SUPPLY_RECHECK_SECONDS: a broker that is down or
slow delays no heartbeat and loses no record.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import (
    DatabaseError,
    InterfaceError,
    OperationalError,
    close_old_connections,
    connection,
)
from django.utils import timezone

from alignment.admission import recording
from alignment.admission.decide import Decision
from alignment.admission.review import Request
from alignment.admission.verification import MAX_IMAGES
from alignment.models import AdmissionServer
from driftcontrol import queue as tasks

QUEUE_LIMIT = 50_000  # decisions submitted and not yet taken by the thread
FLUSH_AT = 500  # queued decisions that wake the thread before its heartbeat
KEPT_LIMIT = 50_000  # decisions to keep held while the database does not answer
BACKOFF_LIMIT = 60.0  # seconds between attempts at most, while it does not answer
SAID_EVERY = 60.0  # seconds between log lines about decisions dropped
REFUSED_LIMIT = 3  # attempts at a batch the database answers but refuses, then dropped
# What a database that does not answer raises (held and tried again, however long).
DOWN = (OperationalError, InterfaceError)
VERIFY_TASK = "admission.verify_images"

log = logging.getLogger(__name__)

Submitted = tuple[str, Request, Decision, float, datetime]


class Recorder:
    """Decisions recorded off the hot path: submit() only enqueues; a thread writes every
    ADMISSION_HEARTBEAT_SECONDS (or at FLUSH_AT queued): AdmissionDecision rows for warn,
    deny and break-glass, AdmissionTally increments for all (allows counted), the
    server's heartbeat (AdmissionServer.seen_at), and for break-glass a lane.break-glass
    finding, an audit event and an admission.break_glass outbox event; admission.denied
    outbox events for denies; unverified images queued to admission.verify_images
    (deduplicated). Dry runs: counted in tallies (dry_runs) only."""

    def __init__(self, address: str, heartbeat_seconds: float | None = None) -> None:
        self.address = address
        self.every = heartbeat_seconds or settings.ADMISSION_HEARTBEAT_SECONDS
        self.server_id: int | None = None
        self.verifications = Verifications()
        self._queue: queue.Queue[Submitted] = queue.Queue(maxsize=QUEUE_LIMIT)
        self._batch = recording.Batch()
        self._full = 0  # dropped by submit (the event loop's thread only)
        self._overflow = 0  # dropped by the recorder's thread (no room to keep them)
        self._said = (0, 0.0)  # dropped when last said, and when (monotonic)
        self._failures = 0  # writes failed in a row
        self._next_write = 0.0  # monotonic: not before, while failing
        self._lock = threading.Lock()  # one flush at a time
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def dropped(self) -> int:
        """Decisions not recorded: the queue was full, or too many were held."""
        return self._full + self._overflow

    def start(self) -> None:
        """Say this server runs (an AdmissionServer row), and start writing."""
        try:
            self._register()
        except DatabaseError as error:  # said at the first write the database takes
            log.warning("admission: the server's run could not be recorded yet: %s", error)
        self._stopping.clear()
        self.verifications.start()
        self._thread = threading.Thread(target=self._run, name="admission-recorder", daemon=True)
        self._thread.start()

    def submit(self, cluster: str, request: Request, decision: Decision, latency_ms: float) -> None:
        """Hand a decision over; never waits, never raises for a full queue."""
        # Queued without the objects it carried: hundreds of parsed bodies held until the
        # thread drains them would be walked by every garbage collection meanwhile
        # (measured: 100 us more per request, and pauses of milliseconds).
        kept = recording.without_objects(request)
        try:
            self._queue.put_nowait((cluster, kept, decision, latency_ms, timezone.now()))
        except queue.Full:
            self._full += 1
            return
        if self._queue.qsize() >= FLUSH_AT:
            self._wake.set()

    def flush(self) -> None:
        """Write what is queued now (when the database answers; else it stays held)."""
        with self._lock:
            self._drain()
            self._write()

    def stop(self) -> None:
        """Write what is left, and say this run stopped."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=max(30.0, self.every * 3))
            self._thread = None
        else:
            self.flush()
        self.verifications.stop()
        if self.server_id is not None:
            try:
                now = timezone.now()
                AdmissionServer.objects.filter(pk=self.server_id).update(
                    seen_at=now, stopped_at=now
                )
            except DatabaseError as error:
                log.warning("admission: the server's stop could not be recorded: %s", error)

    def _register(self) -> None:
        now = timezone.now()
        server = AdmissionServer.objects.create(
            address=self.address[:300],
            hostname=socket.gethostname()[:253],
            pid=os.getpid(),
            started_at=now,
            seen_at=now,
        )
        self.server_id = server.pk

    def _drain(self) -> None:
        while True:
            try:
                cluster, request, decision, latency_ms, at = self._queue.get_nowait()
            except queue.Empty:
                return
            room = len(self._batch.kept) < KEPT_LIMIT
            if not self._batch.add(cluster, request, decision, latency_ms, at, room):
                self._overflow += 1

    def _write(self) -> None:
        try:
            if self.server_id is None:
                self._register()
            written = recording.write(self._batch, self.server_id)
        except DatabaseError as error:
            self._failures += 1
            # A database that answers and still refuses the batch (a constraint, a value)
            # will refuse it again: holding it for ever would stop all recording.
            if not isinstance(error, DOWN) and self._failures >= REFUSED_LIMIT:
                self._drop_batch()
                return
            wait = min(self.every * 2**self._failures, BACKOFF_LIMIT)
            self._next_write = time.monotonic() + wait
            log.warning(
                "admission: recording failed (%s); %d decision(s) held, trying again in %.0f s",
                error,
                len(self._batch.kept),
                wait,
            )
            return
        except Exception:
            self._drop_batch()  # as surely refused next time
            return
        self._batch, self._failures = recording.Batch(), 0
        for (cluster_id, lane), images in written.unverified.items():
            self.verifications.ask(cluster_id, lane, images)

    def _drop_batch(self) -> None:
        log.exception(
            "admission: a batch of %d decision(s) to keep could not be recorded; dropped",
            len(self._batch.kept),
        )
        self._overflow += len(self._batch.kept)
        self._batch, self._failures = recording.Batch(), 0

    def _run(self) -> None:
        while True:
            self._wake.wait(self.every)
            self._wake.clear()
            stopping = self._stopping.is_set()
            close_old_connections()  # a connection the database dropped is replaced
            with self._lock:
                self._drain()
                if stopping or time.monotonic() >= self._next_write:
                    self._write()
            self._say_dropped()
            if stopping:
                break
        connection.close()

    def _say_dropped(self) -> None:
        said, at = self._said
        now = time.monotonic()
        if self.dropped > said and now - at >= SAID_EVERY:
            log.warning(
                "admission: %d decision(s) not recorded in all (%d since last said): the "
                "database did not keep up",
                self.dropped,
                self.dropped - said,
            )
            self._said = (self.dropped, now)


class Verifications:
    """Images to verify, sent to the workers from a thread of its own: each (cluster,
    lane, image) at most once every SUPPLY_RECHECK_SECONDS. While the broker does not
    answer, what comes is dropped (the next decision naming an image asks again)."""

    PENDING_LIMIT = 1_000  # asks waiting for the thread
    REMEMBERED = 20_000  # (cluster, lane, image) sent, remembered for the window
    PAUSE = 30.0  # seconds without sending after the broker did not answer

    def __init__(self, send: Callable[..., Any] | None = None) -> None:
        self._send = send or tasks.send
        self._pending: queue.Queue[tuple[int, str, frozenset[str]] | None] = queue.Queue(
            maxsize=self.PENDING_LIMIT
        )
        self._sent: OrderedDict[tuple[int, str, str], float] = OrderedDict()
        self._paused_until = 0.0
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._run, name="admission-verifications", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            with contextlib.suppress(queue.Full):  # a daemon: it ends with the process
                self._pending.put(None, timeout=1)
            self._thread.join(timeout=5)
            self._thread = None

    def ask(self, cluster_id: int, lane: str, images: set[str]) -> None:
        """Verify the images for the lane on the cluster, unless asked lately."""
        with contextlib.suppress(queue.Full):  # asked again by the next decisions naming them
            self._pending.put_nowait((cluster_id, lane, frozenset(images)))

    def send_pending(self) -> int:
        """Send what was asked (the thread does; tests call it); the tasks sent."""
        sent = 0
        while True:
            try:
                item = self._pending.get_nowait()
            except queue.Empty:
                return sent
            if item is not None:
                sent += self._sent_now(*item)

    def _run(self) -> None:
        while (item := self._pending.get()) is not None:
            self._sent_now(*item)

    def _sent_now(self, cluster_id: int, lane: str, images: frozenset[str]) -> int:
        now = time.monotonic()
        if now < self._paused_until:
            return 0
        window = settings.SUPPLY_RECHECK_SECONDS
        due = sorted(
            image
            for image in images
            if now - self._sent.get((cluster_id, lane, image), now - window - 1) > window
        )
        sent = 0
        for start in range(0, len(due), MAX_IMAGES):
            chunk = due[start : start + MAX_IMAGES]
            try:
                self._send(VERIFY_TASK, cluster_id, lane, chunk)
            except tasks.BrokerDown as error:
                self._paused_until = now + self.PAUSE
                log.warning(
                    "admission: the broker did not take %s (%s); images let through "
                    "unverified wait for the scans for %.0f s",
                    VERIFY_TASK,
                    error,
                    self.PAUSE,
                )
                return sent
            for image in chunk:
                self._sent[cluster_id, lane, image] = now
                self._sent.move_to_end((cluster_id, lane, image))
            sent += 1
        while len(self._sent) > self.REMEMBERED:
            self._sent.popitem(last=False)
        return sent
