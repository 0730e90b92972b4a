"""Git-to-runtime sync: which Git revision each object was last applied from, and whether
the GitOps tools' own verdicts agree with what DriftControl sees.

An object's revision comes from the Argo CD Application or Flux Kustomization that tracks
it (the tool re-applies its whole revision on every sync), else from DriftControl's own
annotation on what its remediations applied. The head, its age and the grace come with
the evaluation (`Circumstances`); without a head, or without an object's revision, these
rules stay silent rather than guess.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import timedelta
from typing import Any

from alignment.rules.base import Evidence, GitHead, GitOpsApp, Objects, Reach, Violation, rule
from drift.engine.normalize import REVISION_ANNOTATION, ObjectKey, key_of

ARGO, FLUX = "Argo CD", "Flux"
ARGO_TRACKING = "argocd.argoproj.io/tracking-id"
ARGO_INSTANCE = "app.kubernetes.io/instance"
FLUX_GROUP = "kustomize.toolkit.fluxcd.io"
FLUX_NAME = "kustomize.toolkit.fluxcd.io/name"
FLUX_NAMESPACE = "kustomize.toolkit.fluxcd.io/namespace"
DRIFTCONTROL = "DriftControl"


def argo_application(obj: Mapping[str, Any]) -> GitOpsApp:
    """An Application as it reports itself. While Synced, `status.sync.revision` is what
    runs; otherwise what runs is what the last sync operation applied."""
    status = obj.get("status") or {}
    sync = status.get("sync") or {}
    verdict = str(sync.get("status") or "Unknown")
    applied = ((status.get("operationState") or {}).get("syncResult") or {}).get("revision")
    revision = sync.get("revision") if verdict == "Synced" else applied
    return GitOpsApp(
        ARGO,
        key_of(dict(obj)),
        str(obj.get("apiVersion", "")),
        verdict,
        in_sync=verdict == "Synced",
        revision=str(revision or applied or ""),
    )


def flux_kustomization(obj: Mapping[str, Any]) -> GitOpsApp:
    """A Kustomization as it reports itself: its Ready condition and lastAppliedRevision."""
    status = obj.get("status") or {}
    ready = next((c for c in status.get("conditions") or () if c.get("type") == "Ready"), None)
    in_sync = ready is not None and ready.get("status") == "True"
    verdict = "Ready" if in_sync else ("NotReady" if ready else "Unknown")
    revision = flux_revision(str(status.get("lastAppliedRevision") or ""))
    return GitOpsApp(
        FLUX, key_of(dict(obj)), str(obj.get("apiVersion", "")), verdict, in_sync, revision
    )


def flux_revision(reported: str) -> str:
    """The commit of a Flux revision: `main@sha1:<sha>` (Flux 2.x), `main/<sha>` (older),
    `sha1:<sha>` or the bare commit."""
    if "@" in reported:
        reported = reported.rsplit("@", 1)[1]
    elif "/" in reported:
        reported = reported.rsplit("/", 1)[1]
    return reported.split(":", 1)[1] if ":" in reported else reported


class Trackers:
    """Which app, of those the cluster holds, manages an object: Argo CD's tracking-id
    annotation (checked against the object, as Argo CD does, so a copied annotation
    claims nothing) or its instance label; Flux's name and namespace labels."""

    def __init__(self, apps: tuple[GitOpsApp, ...]) -> None:
        self.argo: dict[str, list[GitOpsApp]] = {}
        self.flux = {app.key: app for app in apps if app.tool == FLUX}
        for app in apps:
            if app.tool == ARGO:
                self.argo.setdefault(app.key.name, []).append(app)

    def of(self, key: ObjectKey, obj: Mapping[str, Any]) -> GitOpsApp | None:
        metadata = obj.get("metadata") or {}
        labels = metadata.get("labels") or {}
        tracking = str((metadata.get("annotations") or {}).get(ARGO_TRACKING) or "")
        if tracking:
            return self._argo_tracking(key, tracking)
        if labels.get(FLUX_NAME) and labels.get(FLUX_NAMESPACE):
            namespace, name = str(labels[FLUX_NAMESPACE]), str(labels[FLUX_NAME])
            return self.flux.get(ObjectKey(FLUX_GROUP, "Kustomization", namespace, name))
        if labels.get(ARGO_INSTANCE):
            # Helm and many charts set this label too: it counts only when an Application
            # of that name, and only one, exists.
            named = self.argo.get(str(labels[ARGO_INSTANCE]), [])
            return named[0] if len(named) == 1 else None
        return None

    def _argo_tracking(self, key: ObjectKey, tracking: str) -> GitOpsApp | None:
        # <app>:<group>/<kind>:<namespace>/<name>; <app> is <namespace>_<name> for an
        # Application outside Argo CD's own namespace.
        app, _, rest = tracking.partition(":")
        group_kind, _, namespaced = rest.partition(":")
        if group_kind != f"{key.group}/{key.kind}" or namespaced != f"{key.namespace}/{key.name}":
            return None
        namespace, _, name = app.rpartition("_")
        named = [
            a for a in self.argo.get(name, []) if not namespace or a.key.namespace == namespace
        ]
        return named[0] if len(named) == 1 else None


def same_revision(one: str, other: str) -> bool:
    """Whether two commits are the same, either possibly abbreviated (7 digits or more)."""
    if min(len(one), len(other)) < 7:
        return one == other
    return one.startswith(other) or other.startswith(one)


def head_age(reach: Reach) -> tuple[GitHead, timedelta] | None:
    """Git's head and how long it has been the head, once that is longer than the grace."""
    circumstances = reach.circumstances
    head, now = circumstances.head, circumstances.now
    if head is None or not head.revision or head.since is None or now is None:
        return None
    age = now - head.since
    return (head, age) if age > circumstances.sync_grace else None


def revision_of(
    key: ObjectKey, obj: Mapping[str, Any], trackers: Trackers
) -> tuple[str, str, Evidence] | None:
    """The revision an object was last applied from, who says so, and the evidence."""
    app = trackers.of(key, obj)
    if app is not None:
        if not app.revision:
            return None
        evidence = Evidence(app.key, _revision_path(app), f"revision {app.revision}")
        return app.revision, _named(app), evidence
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    stamped = str(annotations.get(REVISION_ANNOTATION) or "")
    if not stamped:
        return None
    path = "/metadata/annotations/" + REVISION_ANNOTATION.replace("/", "~1")
    return stamped, DRIFTCONTROL, Evidence(key, path, f"applied by DriftControl from {stamped}")


def _named(app: GitOpsApp) -> str:
    return f"{app.tool} {app.key.kind} {app.key.namespace}/{app.key.name}"


def duration(age: timedelta) -> str:
    """2d3h, 1h5m, 12m: how long, to the minute."""
    total = int(age.total_seconds() // 60)
    parts = zip((total // 1440, total // 60 % 24, total % 60), "dhm", strict=True)
    return "".join(f"{amount}{unit}" for amount, unit in parts if amount) or "0m"


@rule(
    "sync.lagging",
    "medium",
    "Live objects run Git's head",
    """The object was last applied from an older Git revision than the source's head, and
    the head has been there longer than the policy's syncGracePeriod: a change merged to Git
    has not reached the cluster. Check the GitOps tool that deploys it (an Argo CD
    Application not synced or with auto-sync off, a Flux Kustomization suspended or failing,
    a source it cannot fetch), then sync it; an object DriftControl put back is brought to
    the head by syncing its findings again. Raise syncGracePeriod if deploys take longer.""",
)
def lagging(objects: Objects, reach: Reach) -> Iterator[Violation]:
    aged = head_age(reach)
    if aged is None:
        return
    head, age = aged
    trackers = Trackers(reach.circumstances.gitops)
    drifted = reach.circumstances.drifted
    for key, obj in objects.items():
        found = revision_of(key, obj, trackers)
        if found is None or same_revision(found[0], head.revision):
            continue
        revision, origin, evidence = found
        if origin == DRIFTCONTROL and key not in drifted:
            # DriftControl stamps only what it puts back; an object that matches Git's
            # head declares nothing newer, whatever revision it was last written from.
            continue
        yield Violation(
            "sync.lagging",
            key,
            str(obj.get("apiVersion", "")),
            f"{key} runs revision {revision[:12]} (per {origin}), but Git's head has been "
            f"{head.revision[:12]} for {duration(age)}",
            (evidence,),
        )


@rule(
    "sync.verdict",
    "high",
    "GitOps tools' verdicts agree with Git",
    """An Argo CD Application reports Synced, or a Flux Kustomization Ready, while
    DriftControl finds objects it manages drifted from Git, or while it applied another
    revision than Git's head for longer than syncGracePeriod: the tool's dashboard says all
    is well and it is not. Look at the drifted objects' findings: a difference the tool
    ignores (Argo CD ignoreDifferences, fields it does not compare) should be ignored by the
    policy too, or fixed in Git; a tool that does not see the new head needs its source
    checked (repository URL, branch, credentials, refresh interval).""",
)
def verdict(objects: Objects, reach: Reach) -> Iterator[Violation]:
    circumstances = reach.circumstances
    claims = tuple(app for app in circumstances.gitops if app.in_sync and app.revision)
    head = circumstances.head
    if not claims or head is None or not head.revision:
        return
    trackers = Trackers(circumstances.gitops)
    managed: dict[ObjectKey, list[ObjectKey]] = {}
    for key, obj in objects.items():
        app = trackers.of(key, obj)
        if app is not None:
            managed.setdefault(app.key, []).append(key)
    aged = head_age(reach)
    for app in claims:
        keys = sorted(managed.get(app.key, ()))
        if not keys:
            continue  # deploys nothing this evaluation holds (another source, another scope)
        if not same_revision(app.revision, head.revision):
            if aged is not None:
                yield _disagreement(
                    app,
                    f"applied revision {app.revision[:12]}, but Git's head has been "
                    f"{head.revision[:12]} for {duration(aged[1])}",
                    (Evidence(app.key, _revision_path(app), f"revision {app.revision}"),),
                )
            continue  # drift against a head the tool has not applied yet is lag, not this
        drifted = [key for key in keys if key in circumstances.drifted]
        if drifted:
            named = ", ".join(str(key) for key in drifted[:3])
            more = f" and {len(drifted) - 3} more" if len(drifted) > 3 else ""
            yield _disagreement(
                app,
                f"at Git's head {head.revision[:12]}, yet DriftControl found {len(drifted)} "
                f"of its objects drifted: {named}{more}",
                tuple(Evidence(key, "", "drifted from Git") for key in drifted),
            )


def _revision_path(app: GitOpsApp) -> str:
    if app.tool == FLUX:
        return "/status/lastAppliedRevision"
    return "/status/sync/revision" if app.in_sync else "/status/operationState/syncResult/revision"


def _disagreement(app: GitOpsApp, what: str, evidence: tuple[Evidence, ...]) -> Violation:
    return Violation(
        "sync.verdict",
        app.key,
        app.api_version,
        f"{_named(app)} reports {app.verdict} {what}",
        evidence,
    )
