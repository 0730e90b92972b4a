"""One policy on one cluster: its watches, its cached desired state, and the evaluation of
each object an event names.

A pair sets itself up in a thread of its own (connecting to the cluster, reading Git),
since either can take up to its timeout; the watcher only looks at how that went.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import close_old_connections, connection

from drift import git, kube
from drift.engine.compare import compare
from drift.engine.normalize import DesiredObject, ObjectKey, SecretHasher, key_of
from drift.engine.policy import EnginePolicy
from drift.models import Cluster, DriftPolicy, Finding, FindingType, GitSource
from drift.services import annotating, clusters, desired, evidence, ledger
from drift.services.watching.aligning import Aligner

log = logging.getLogger(__name__)


@dataclass
class Settings:
    reconcile_seconds: float = 5.0  # how soon policy and cluster changes are picked up
    git_poll_seconds: float = 60.0  # how often Git sources are read again
    watch_timeout_seconds: int = 60  # server-side watch timeout; watches resume after it
    max_backoff_seconds: float = 30.0  # longest wait before a failed watch is opened again
    # Longest wait before a pair that could not be set up, or a Git source that could not
    # be read, is tried again; the waits double from reconcile_seconds (git_poll_seconds).
    max_retry_seconds: float = 600.0


def version_of(policy: DriftPolicy, cluster: Cluster) -> tuple[Any, ...]:
    """What makes a running pair stale: any change to the policy, its source or the cluster."""
    return (policy.updated_at, policy.source.updated_at, cluster.updated_at)


class PairWatch:
    """The watches of one policy on one cluster, sharing its cached desired state."""

    def __init__(
        self,
        policy: DriftPolicy,
        cluster: Cluster,
        settings: Settings,
        on_event: Callable[[str], None] | None = None,
    ) -> None:
        self.policy, self.cluster, self.settings = policy, cluster, settings
        self.version = version_of(policy, cluster)
        self.stop_event = threading.Event()
        self.threads: list[threading.Thread] = []
        self.hasher: SecretHasher = desired.secret_hasher()
        self.rules: EnginePolicy = evidence.engine_policy(policy)
        self.scope = desired.Scope.of(policy)
        self.state: desired.DesiredState | None = None
        self.targets: set[ObjectKey] = set()
        self.state_lock = threading.Lock()
        self.on_event = on_event
        self.name = f"{policy.name}@{cluster.name}"
        # resourceVersion of every object last seen, per watch: after a 410, only what
        # changed meanwhile is evaluated again.
        self.seen: dict[tuple[str, str | None], dict[ObjectKey, str]] = {}
        # Objects with an open finding of this pair: a clean object not in it needs no
        # ledger transaction. Refreshed every few seconds, since scans open findings too.
        self.open_keys: set[ObjectKey] = set()
        # Open watches, closed by stop() so that threads end now, not at the next event.
        self.streams: set[kube.WatchStream] = set()
        self.streams_lock = threading.Lock()
        # Set once set-up has ended, with `error` saying why when it failed.
        self.settled = threading.Event()
        self.error: str | None = None
        # The rooms' rules that judge one object (alignment's), a moment after its event.
        self.aligner = Aligner(
            policy, cluster, self.rules, self.stop_event, lambda key: key in self.open_keys
        )

    # --- desired state ----------------------------------------------------------------

    def refresh_desired(self, fetch: bool = True) -> bool:
        """Read the source again; True when the revision changed."""
        source = GitSource.objects.get(pk=self.policy.source_id)
        revision = desired.read_revision(source, fetch=fetch)
        with self.state_lock:
            if self.state is not None and self.state.revision == revision.sha:
                return False
            self.state = desired.for_cluster(revision, self.policy, self.discovery, self.hasher)
            self.targets = evidence.hpa_targets(self.state, evidence.LiveState())
        log.info(
            "%s: desired state at %s (%d objects)",
            self.name,
            revision.sha[:12],
            len(self.state.objects),
        )
        return True

    # --- lifecycle --------------------------------------------------------------------

    def launch(self) -> None:
        """Set up and start watching in a thread of its own; `settled` says when it is done."""
        thread = threading.Thread(target=self._set_up, name=f"setup {self.name}", daemon=True)
        self.threads.append(thread)
        thread.start()

    def _set_up(self) -> None:
        try:
            self.start()
        except (kube.KubeError, git.GitError) as error:
            self.error = str(error) or type(error).__name__
        except Exception as error:
            log.exception("%s: setting up crashed", self.name)
            self.error = f"internal error: {type(error).__name__}: {error}"
        finally:
            self.settled.set()
            close_old_connections()
            connection.close()  # this thread's own

    def start(self) -> None:
        """Connect, read the desired state, then open the watches (unless stopped meanwhile)."""
        self.connection = clusters.connect(self.cluster)
        self.discovery = self.connection.discover()
        self.refresh_desired()
        self.refresh_open_keys()
        assert self.state is not None
        if self.stop_event.is_set():
            return  # its configuration changed while Git was being read
        for resource in self.resources():
            namespaces = self.scope.listed_namespaces() if resource.namespaced else None
            listed: list[str | None] = list(namespaces) if namespaces else [None]
            for namespace in listed:
                thread = threading.Thread(
                    target=self._watch_loop,
                    args=(resource, namespace),
                    name=f"watch {self.name} {resource.plural}",
                    daemon=True,
                )
                thread.start()
                self.threads.append(thread)
        thread = threading.Thread(target=self._git_loop, name=f"git {self.name}", daemon=True)
        thread.start()
        self.threads.append(thread)
        if self.aligner.active:
            thread = threading.Thread(target=self.aligner.run, name=f"align {self.name}")
            thread.daemon = True
            thread.start()
            self.threads.append(thread)
        log.info("%s: watching %d kind(s)", self.name, len(self.resources()))

    def resources(self) -> list[kube.Resource]:
        assert self.state is not None
        return evidence.resources_to_read(self.policy, self.state, self.discovery, self.scope)

    def stop(self) -> None:
        self.stop_event.set()
        with self.streams_lock:
            streams = list(self.streams)
        for stream in streams:
            stream.close()

    def join(self, timeout: float = 5.0) -> None:
        for thread in list(self.threads):
            thread.join(timeout)

    def describe(self) -> str:
        """How the pair is doing, for the system page."""
        if not self.settled.is_set():
            return f"{self.name} (starting)"
        return self.name if self.error is None else f"{self.name} (failed: {self.error[:200]})"

    # --- the loops --------------------------------------------------------------------

    def refresh_open_keys(self) -> None:
        rows = (
            Finding.objects.open()
            .filter(policy=self.policy, cluster=self.cluster)
            .values_list("api_group", "kind", "namespace", "name")
        )
        self.open_keys = {ObjectKey(*row) for row in rows}

    def _git_loop(self) -> None:
        """Read the source every git_poll_seconds, or when a push hook asks; after failures
        in a row, wait twice as long each time (up to max_retry_seconds)."""
        poll = self.settings.git_poll_seconds
        next_read, failures = time.monotonic() + poll, 0
        seen_request = self._refresh_requested_at()
        while not self.stop_event.wait(1.0):
            try:
                self.refresh_open_keys()
                requested = self._refresh_requested_at()
                if time.monotonic() >= next_read or requested != seen_request:
                    seen_request, next_read = requested, time.monotonic() + poll
                    self.refresh_desired()
                    failures = 0
            except (git.GitError, kube.KubeError) as error:
                failures += 1
                wait = min(self.settings.max_retry_seconds, poll * 2 ** (failures - 1))
                next_read = time.monotonic() + wait
                log.warning(
                    "%s: cannot read the Git source (%d time(s) in a row; next try in %.0f s): %s",
                    self.name,
                    failures,
                    wait,
                    error,
                )
            finally:
                close_old_connections()
        connection.close()

    def _refresh_requested_at(self) -> Any:
        return (
            GitSource.objects.filter(pk=self.policy.source_id)
            .values_list("refresh_requested_at", flat=True)
            .first()
        )

    def _watch_loop(self, resource: kube.Resource, namespace: str | None) -> None:
        """List once for a resourceVersion, then watch; relist on 410, back off on errors."""
        resource_version = ""
        failures = 0
        seen = self.seen.setdefault((resource.plural, namespace), {})
        while not self.stop_event.is_set():
            try:
                if not resource_version:
                    resource_version = self._relist(resource, namespace, seen)
                stream = self.connection.watch(
                    resource, namespace, resource_version, self.settings.watch_timeout_seconds
                )
                with self.streams_lock:
                    self.streams.add(stream)
                if self.stop_event.is_set():
                    stream.close()
                for kind, obj in stream:
                    metadata = obj.get("metadata") or {}
                    resource_version = metadata.get("resourceVersion", resource_version)
                    if kind in ("ADDED", "MODIFIED", "DELETED"):
                        key = key_of(obj)
                        if kind == "DELETED":
                            seen.pop(key, None)
                        else:
                            seen[key] = resource_version
                        self.evaluate(kind, obj, resource.plural)
                    if self.stop_event.is_set():
                        break
                with self.streams_lock:
                    self.streams.discard(stream)
                failures = 0
            except kube.Gone:
                log.info("%s: %s watch expired (410); listing again", self.name, resource.plural)
                resource_version = ""
            except kube.KubeError as error:
                failures += 1
                delay = min(self.settings.max_backoff_seconds, 2**failures) * random.uniform(
                    0.5, 1.0
                )
                log.warning(
                    "%s: %s watch failed (%s); retrying in %.1f s",
                    self.name,
                    resource.plural,
                    error,
                    delay,
                )
                self.stop_event.wait(delay)
            except Exception:
                log.exception("%s: %s watch crashed; restarting it", self.name, resource.plural)
                self.stop_event.wait(5.0)
            finally:
                close_old_connections()
        connection.close()

    def _relist(
        self, resource: kube.Resource, namespace: str | None, seen: dict[ObjectKey, str]
    ) -> str:
        """A fresh list for a resourceVersion to watch from. The first list only learns
        versions (scans own the full picture); a relist after a 410 evaluates what changed
        or vanished while the watch was down."""
        first = not seen
        listed: dict[ObjectKey, dict[str, Any]] = {}
        version = ""
        for page in self.connection.pages(resource, namespace):
            version = page.resource_version
            for obj in page.items:
                listed[key_of(obj)] = obj
        if not first:
            for key, obj in listed.items():
                if seen.get(key) != (obj.get("metadata") or {}).get("resourceVersion"):
                    self.evaluate("MODIFIED", obj, resource.plural)
            for key in set(seen) - set(listed):
                self.evaluate(
                    "DELETED",
                    {
                        "apiVersion": resource.api_version,
                        "kind": resource.kind,
                        "metadata": {"name": key.name, "namespace": key.namespace},
                    },
                    resource.plural,
                )
        seen.clear()
        seen.update(
            {
                key: (obj.get("metadata") or {}).get("resourceVersion", "")
                for key, obj in listed.items()
            }
        )
        return version

    # --- evaluation -------------------------------------------------------------------

    def evaluate(self, event: str, obj: dict[str, Any], plural: str = "") -> None:
        """Compare the one object and update the ledger for it (and only it); ``plural``
        names its resource (how the audit feed names it)."""
        key = key_of(obj)
        with self.state_lock:
            state, targets = self.state, self.targets
        if state is None or not self.scope.covers(key, (obj.get("metadata") or {}).get("labels")):
            return
        declared = state.objects.get(key)
        source = declared.source if declared is not None else ""
        self.aligner.soon(key, None if event == "DELETED" else obj, plural, source)
        if declared is None and not (self.policy.detect_unmanaged and state.complete):
            return
        if declared is not None and declared.api_version != obj.get("apiVersion"):
            return  # listed in another version than Git's; the scheduled scan reads it right
        observations = self.observe(event, key, declared, obj, state, key in targets)
        if not observations and key not in self.open_keys:
            return  # clean, and nothing open to resolve: no transaction needed
        annotating.annotate(self.cluster, observations)
        outcome = ledger.record(
            self.policy,
            self.cluster,
            observations,
            known=lambda k: k == key,
            actor="system:watcher",
            resolve_scope=[key],
        )
        if observations:
            self.open_keys.add(key)
        elif outcome.resolved:
            self.open_keys.discard(key)
        if outcome.opened or outcome.resolved:
            log.info(
                "%s: %s %s: %d opened, %d resolved",
                self.name,
                event.lower(),
                key,
                len(outcome.opened),
                len(outcome.resolved),
            )
        if self.on_event is not None:
            self.on_event(str(key))

    def observe(
        self,
        event: str,
        key: ObjectKey,
        declared: DesiredObject | None,
        obj: dict[str, Any],
        state: desired.DesiredState,
        autoscaled: bool,
    ) -> list[ledger.Observation]:
        """What the event shows of the object: missing, drifted, unmanaged, or nothing."""
        if event == "DELETED":
            if declared is None:
                return []
            return [evidence.missing(key, declared, self.rules, self.hasher)]
        if declared is None:
            live = evidence.LiveState(objects={key: obj}, read={(key.group, key.kind)})
            return evidence.unmanaged(state, live, self.scope, self.rules, self.hasher)
        extra = ("/spec/replicas",) if autoscaled else ()
        drift = compare(declared, obj, self.rules, self.hasher, extra)
        if drift is None:
            return []
        return [
            ledger.Observation(
                key,
                declared.api_version,
                FindingType.MODIFIED,
                drift.severity,
                drift.as_dict(),
                drift.attribution,
                drift.drift_started_at,
                declared.source,
                live=obj,
            )
        ]
