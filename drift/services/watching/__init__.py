"""Watch-based detection: `drift watch` keeps Kubernetes watches open for every enabled
policy and cluster, and re-evaluates the one object an event names, seconds after it changed.

Scheduled scans remain the source of complete evidence (and of resolution across whole
kinds); the watcher only ever updates the ledger for the object in front of it.

Callers use what this package exports; the submodules are `pair` (one policy on one
cluster: its watches and evaluation) and `watcher` (every pair, set up concurrently).
"""

from drift.services.watching.pair import PairWatch, Settings
from drift.services.watching.watcher import Watcher

__all__ = ["PairWatch", "Settings", "Watcher"]
