"""The watcher: a PairWatch per enabled (policy, cluster), following configuration changes.

Pairs are set up concurrently, each in its own thread: a Git source that hangs until its
timeout (or a cluster that does not answer) delays only its own pairs. A pair whose set-up
failed is tried again after a backoff that doubles with each failure in a row (capped),
shown in the logs and on the system page; any change to its policy, source or cluster
retries it at once.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import close_old_connections, connection
from django.utils import timezone

from drift.models import Cluster, DriftPolicy
from drift.services import clusters
from drift.services.watching.pair import PairWatch, Settings, version_of
from driftcontrol.services.system_status import WATCHER_PREFIX
from driftcontrol.services.workers import record_heartbeat

log = logging.getLogger(__name__)


@dataclass
class Retry:
    """A pair whose set-up failed: not tried again before `at` unless its version changes."""

    version: tuple[Any, ...]
    failures: int
    at: float
    error: str
    name: str


@dataclass
class Watcher:
    """Runs a PairWatch per enabled (policy, cluster) and follows configuration changes."""

    settings: Settings = field(default_factory=Settings)
    pairs: dict[tuple[int, int], PairWatch] = field(default_factory=dict)
    stop_event: threading.Event = field(default_factory=threading.Event)
    on_event: Callable[[str], None] | None = None
    # Set once every pair set up so far has started watching or failed.
    ready: threading.Event = field(default_factory=threading.Event)
    retries: dict[tuple[int, int], Retry] = field(default_factory=dict)

    def wanted(self) -> dict[tuple[int, int], tuple[DriftPolicy, Cluster]]:
        found = {}
        for policy in DriftPolicy.objects.filter(enabled=True).select_related("source"):
            for cluster in clusters.targets(policy):
                found[(policy.pk, cluster.pk)] = (policy, cluster)
        return found

    def reconcile(self) -> None:
        """Stop stale pairs, note failed set-ups, and launch every missing pair that is due;
        never waits for a pair to set up."""
        wanted = self.wanted()
        for pair_key in list(self.pairs):
            running = self.pairs[pair_key]
            if pair_key not in wanted or version_of(*wanted[pair_key]) != running.version:
                log.info("%s: configuration changed; stopping its watches", running.name)
                running.stop()
                del self.pairs[pair_key]
            elif running.error is not None:
                running.stop()
                del self.pairs[pair_key]
                self._retry_later(pair_key, running)
        for pair_key in set(self.retries) - set(wanted):
            del self.retries[pair_key]
        now = time.monotonic()
        for pair_key, (policy, cluster) in wanted.items():
            retry = self.retries.get(pair_key)
            if pair_key in self.pairs or (
                retry is not None
                and retry.version == version_of(policy, cluster)
                and now < retry.at
            ):
                continue
            pair = PairWatch(policy, cluster, self.settings, self.on_event)
            pair.launch()
            self.pairs[pair_key] = pair

    def _retry_later(self, pair_key: tuple[int, int], failed: PairWatch) -> None:
        previous = self.retries.get(pair_key)
        failures = previous.failures + 1 if previous and previous.version == failed.version else 1
        wait = min(self.settings.max_retry_seconds, self.settings.reconcile_seconds * 2**failures)
        error = failed.error or "unknown error"
        self.retries[pair_key] = Retry(
            failed.version, failures, time.monotonic() + wait, error, failed.name
        )
        log.warning(
            "%s: cannot start watching (%d time(s) in a row; next try in %.0f s): %s",
            failed.name,
            failures,
            wait,
            error,
        )

    def status(self) -> list[str]:
        """Every pair, as the system page shows it: watching, starting, or waiting to retry."""
        now = time.monotonic()
        shown = [pair.describe() for pair in self.pairs.values()]
        shown += [
            f"{retry.name} (retrying in {max(retry.at - now, 0):.0f} s: {retry.error[:200]})"
            for pair_key, retry in self.retries.items()
            if pair_key not in self.pairs
        ]
        return sorted(shown)

    def run(self) -> None:
        """Until stop(): reconcile every few seconds, and say so on the system page."""
        log.info("watcher started at %s", timezone.now().isoformat())
        hostname = f"{WATCHER_PREFIX}{socket.gethostname()}"
        while not self.stop_event.is_set():
            try:
                self.reconcile()
                record_heartbeat(hostname, self.status())
                if all(pair.settled.is_set() for pair in self.pairs.values()):
                    self.ready.set()
            except Exception:
                log.exception("watcher: reconciling failed; trying again")
            finally:
                close_old_connections()
            self.stop_event.wait(self.settings.reconcile_seconds)
        for pair in self.pairs.values():
            pair.stop()
        for pair in self.pairs.values():
            pair.join()
        connection.close()  # this thread's own, used to reconcile

    def stop(self) -> None:
        self.stop_event.set()
