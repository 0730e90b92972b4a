"""The rooms' rules in the watcher (alignment's local rules): each object an event names
is judged again a moment later, and once more after that.

Why later: the watch event arrives as soon as the write is stored, while the API server
sends its audit batch (who made the write) up to a second afterwards. Judging at once
would miss the user who made the change; judging twice catches a slower batch too. A
newer event for the same object replaces the pending one.
"""

from __future__ import annotations

import heapq
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from django.db import close_old_connections, connection

from drift.engine.normalize import ObjectKey
from drift.engine.policy import EnginePolicy
from drift.models import Cluster, DriftPolicy
from drift.services import ledger
from driftcontrol.extensions import app_modules

log = logging.getLogger(__name__)

# Seconds after the event at which the object is judged.
DELAYS = (1.5, 5.0)


class Aligner:
    """Pending judgements of one (policy, cluster) pair, run by a thread of its own."""

    def __init__(
        self,
        policy: DriftPolicy,
        cluster: Cluster,
        rules: EnginePolicy,
        stop_event: threading.Event,
        is_open: Callable[[ObjectKey], bool],
        on_judged: Callable[[ObjectKey], None] | None = None,
    ) -> None:
        self.policy, self.cluster, self.rules = policy, cluster, rules
        self.stop_event, self.is_open = stop_event, is_open
        self.on_judged = on_judged
        self.modules = app_modules("watching")
        self.pending: dict[ObjectKey, tuple[dict[str, Any] | None, str, str]] = {}
        self.due: list[tuple[float, int, ObjectKey, int]] = []  # (when, seq, key, step)
        self.sequence = 0
        self.wakeup = threading.Condition()

    @property
    def active(self) -> bool:
        return bool(self.modules)

    def soon(self, key: ObjectKey, obj: dict[str, Any] | None, plural: str, source: str) -> None:
        """Judge the object (None: deleted) in a moment; ``plural`` names its resource."""
        if not self.modules:
            return
        with self.wakeup:
            self.pending[key] = (obj, plural, source)
            self._schedule(key, 0, time.monotonic())
            self.wakeup.notify()

    def _schedule(self, key: ObjectKey, step: int, start: float) -> None:
        self.sequence += 1
        heapq.heappush(self.due, (start + DELAYS[step], self.sequence, key, step))

    def run(self) -> None:
        try:
            while not self.stop_event.is_set():
                item = self._next()
                if item is not None:
                    self._judge_safely(*item)
        finally:
            connection.close()

    def _next(self) -> tuple[ObjectKey, dict[str, Any] | None, str, str] | None:
        with self.wakeup:
            wait = self.due[0][0] - time.monotonic() if self.due else 0.5
            if wait > 0:
                self.wakeup.wait(min(wait, 0.5))
                return None
            when, _, key, step = heapq.heappop(self.due)
            if key not in self.pending:
                return None
            obj, plural, source = self.pending[key]
            if step + 1 < len(DELAYS):
                self._schedule(key, step + 1, when - DELAYS[step])
            elif not any(k == key for _, _, k, _ in self.due):
                del self.pending[key]
            return key, obj, plural, source

    def _judge_safely(
        self, key: ObjectKey, obj: dict[str, Any] | None, plural: str, source: str
    ) -> None:
        try:
            self.judge(key, obj, plural, source)
        except Exception:
            log.exception("%s@%s: judging %s crashed", self.policy.name, self.cluster.name, key)
        finally:
            close_old_connections()

    def judge(self, key: ObjectKey, obj: dict[str, Any] | None, plural: str, source: str) -> None:
        observations: list[ledger.Observation] = []
        judged: set[str] = set()
        for module in self.modules:
            found, rules = module.judge(
                self.cluster, key, obj, self.rules, plural, source, self.policy.source.url
            )
            observations += found
            judged |= rules
        if not observations and not self.is_open(key):
            return  # nothing found, nothing open to resolve: no transaction needed
        outcome = ledger.record(
            self.policy,
            self.cluster,
            observations,
            known=lambda k: k == key,
            actor="system:watcher",
            resolve_scope=[key],
            judged_rules=judged,
        )
        if outcome.opened or outcome.resolved:
            log.info(
                "%s@%s: %s: %d alignment finding(s) opened, %d resolved",
                self.policy.name,
                self.cluster.name,
                key,
                len(outcome.opened),
                len(outcome.resolved),
            )
        if self.on_judged is not None:
            self.on_judged(key)
