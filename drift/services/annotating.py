"""What the rooms built on detection add to its observations before they are recorded:
each installed app's `annotating.annotate(cluster, observations)` (driftcontrol.
extensions) changes them in place. Alignment's says when a change was admitted while its
admission webhook was down."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from types import ModuleType

from drift.models import Cluster
from drift.services.ledger import Observation
from driftcontrol.extensions import app_modules


def annotate(cluster: Cluster | None, observations: Sequence[Observation]) -> None:
    """Let every room annotate the observations (the scan's, or the watcher's of one event)."""
    if not observations:
        return
    for module in _annotating():
        module.annotate(cluster, observations)


@functools.cache
def _annotating() -> list[ModuleType]:
    # Looked up once per process: the watcher annotates on every event it records.
    return app_modules("annotating")
