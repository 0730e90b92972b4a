"""Which images run where, and what their lane's supply rules made of each: what a scan
keeps for the Images page and its API (alignment.ImageUse). Each scan of a policy on a
cluster replaces that pair's rows, in one transaction.

A container's state is the worst `supply.*` rule its workload breaks for that image (the
rules' evidence names the container's image field), else "verified" when its lane asked
the registry and everything held, else "no requirement".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from alignment import rules
from alignment.models import ImageUse
from alignment.rules.images import ImageCheck, containers
from alignment.rules.supply import requires_evidence
from drift.engine.normalize import ObjectKey
from drift.git import GitError
from drift.models import Cluster, DriftPolicy, GitSource
from drift.services import desired

# Worst first: what the Images page filters by.
STATES = (
    "invalid-signature",
    "source-mismatch",
    "untrusted-signer",
    "unsigned",
    "builder",
    "no-provenance",
    "unverifiable",
    "digest",
    "verified",
    "no-requirement",
)


@dataclass
class Commits:
    """Git's side of "built from": the commit the scan deployed, and whether a revision
    a provenance names is a commit of the policy's Git source (asked once per revision)."""

    head: str = ""
    source: GitSource | None = None
    answers: dict[str, bool] = field(default_factory=dict)

    def known(self, revision: str) -> bool:
        if self.source is None or not revision:
            return False
        if revision not in self.answers:
            self.answers[revision] = _in_git(self.source, revision)
        return self.answers[revision]


# Commits found in a source, by (URL, revision): a commit stays once it is there, so each
# process asks Git once (a scan would otherwise run git for it every time).
_FOUND_COMMITS: set[tuple[str, str]] = set()
_FOUND_KEPT = 10_000


def _in_git(source: GitSource, revision: str) -> bool:
    if (source.url, revision) in _FOUND_COMMITS:
        return True
    try:
        found = desired.repository(source).resolve(revision) == revision
    except (GitError, ValueError):  # not there, or not a revision at all
        return False
    if found and len(_FOUND_COMMITS) < _FOUND_KEPT:
        _FOUND_COMMITS.add((source.url, revision))
    return found


def record(
    policy: DriftPolicy,
    cluster: Cluster,
    objects: Mapping[ObjectKey, Mapping[str, Any]],
    lanes: tuple[rules.LaneSpec, ...],
    checks: Mapping[tuple[str, str], ImageCheck],
    violations: Iterable[rules.Violation],
    commits: Commits | None = None,
    read: Iterable[str] | None = None,
) -> int:
    """Replace what the last scan of ``policy`` on ``cluster`` kept; the rows written.
    ``read``: the kinds the scan listed completely (None: all); rows of other kinds stay
    as an earlier scan saw them, since a kind the scan could not list is not gone."""
    faults = _faults(violations)
    commits = commits or Commits()
    now = timezone.now()
    rows = []
    for key, obj in objects.items():
        owners = [lane for lane in lanes if lane.owns(key.namespace)]
        lane = owners[0] if len(owners) == 1 else None
        for container in containers(key, obj):
            check = checks.get((lane.name, container.image)) if lane else None
            state = faults.get((key, container.path)) or _unfaulted(lane, check)
            rows.append(
                ImageUse(
                    policy=policy,
                    cluster=cluster,
                    namespace=key.namespace,
                    kind=key.kind,
                    name=key.name,
                    container=container.name,
                    image=container.image[:1024],
                    digest=(check.digest if check else "") or _pinned(container.image),
                    lane=lane.name if lane else "",
                    state=state,
                    detail=_detail(check, commits),
                    seen_at=now,
                )
            )
    _store(policy, cluster, rows, read, now)
    return len(rows)


_SAME = ("image", "digest", "lane", "state", "detail")


def _store(
    policy: DriftPolicy,
    cluster: Cluster,
    rows: list[ImageUse],
    read: Iterable[str] | None,
    now: datetime,
) -> None:
    """Write only what changed: a scan that saw what the last one saw updates seen_at in
    one statement, instead of rewriting every row."""
    kept = ImageUse.objects.filter(policy=policy, cluster=cluster)
    if read is not None:
        kept = kept.filter(kind__in=set(read))
    with transaction.atomic():
        before = {
            (u["namespace"], u["kind"], u["name"], u["container"]): u
            for u in kept.select_for_update().values(
                "pk", "namespace", "kind", "name", "container", *_SAME
            )
        }
        fresh, unchanged, stale = [], [], []
        for row in rows:
            was = before.pop((row.namespace, row.kind, row.name, row.container), None)
            if was is not None and all(was[f] == getattr(row, f) for f in _SAME):
                unchanged.append(was["pk"])
                continue
            if was is not None:
                stale.append(was["pk"])  # changed: replaced by the fresh row
            fresh.append(row)
        stale += [u["pk"] for u in before.values()]  # not seen any more
        ImageUse.objects.filter(pk__in=stale).delete()
        ImageUse.objects.filter(pk__in=unchanged).update(seen_at=now)
        ImageUse.objects.bulk_create(fresh, batch_size=1000)


def _faults(violations: Iterable[rules.Violation]) -> dict[tuple[ObjectKey, str], str]:
    """(object, image field) -> the worst supply rule naming it."""
    faults: dict[tuple[ObjectKey, str], str] = {}
    for violation in violations:
        state = violation.rule.removeprefix("supply.")
        if not violation.rule.startswith("supply.") or state not in STATES:
            continue
        for evidence in violation.evidence:
            where = (violation.key, evidence.path)
            if where not in faults or STATES.index(state) < STATES.index(faults[where]):
                faults[where] = state
    return faults


def _unfaulted(lane: rules.LaneSpec | None, check: ImageCheck | None) -> str:
    if lane is not None and requires_evidence(lane) and check and check.evidence:
        return "verified"
    return "no-requirement"


def _pinned(image: str) -> str:
    return image.partition("@")[2] if "@sha256:" in image else ""


def _detail(check: ImageCheck | None, commits: Commits) -> dict[str, Any]:
    """Who signed it and what it was built from, as far as the lane's signers vouch."""
    if check is None or check.evidence is None:
        return {"unverifiable": check.unverifiable} if check and check.unverifiable else {}
    evidence = check.evidence
    signers = [s.signer for s in evidence.signatures if s.state == "trusted"]
    vouched = [p for p in evidence.provenance if p.signature == "trusted"]
    detail: dict[str, Any] = {
        "signers": signers,
        "signatures": [{"signer": s.signer, "state": s.state} for s in evidence.signatures],
    }
    if vouched:
        built = vouched[0]
        detail |= {
            "builder": built.builder,
            "level": built.level,
            "source": built.source,
            "revision": built.revision,
            "built_from_head": bool(commits.head) and built.revision == commits.head,
            "built_from_git": bool(built.revision) and commits.known(built.revision),
        }
    return detail
