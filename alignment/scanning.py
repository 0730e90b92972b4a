"""The alignment rules in a scan: evaluated on what the scan read from the cluster (live)
and, separately, on what Git would deploy there (desired), each violation an `alignment`
observation for the findings ledger, next to the drift.

drift.services.scanning finds this module by name (driftcontrol.extensions), so detection
does not import the rooms built on it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import timedelta
from typing import Any

from django.utils import timezone

from alignment import (
    audit_feed,
    gitops,
    guardrails,
    image_uses,
    lane_labels,
    managed_objects,
    rules,
    supply_chain,
)
from alignment.rules.images import ImageCheck
from drift import kube
from drift.engine.normalize import ObjectKey
from drift.engine.policy import EnginePolicy
from drift.models import Cluster, FindingType, Lane
from drift.services.ledger import Observation
from drift.services.scanning import Reading


def observe(reading: Reading) -> list[Observation]:
    """One observation per rule an object breaks: on live state, then on desired state
    where Git's version of an object breaks a rule the live one does not (yet)."""
    lanes, every_lane = lanes_of(reading.cluster)
    lookup = supply_chain.Lookup()  # one scan's registry reads, shared by both sides
    try:
        return _observe(reading, lanes, every_lane, lookup)
    finally:
        lookup.close()


def _observe(
    reading: Reading,
    lanes: tuple[rules.LaneSpec, ...],
    every_lane: tuple[rules.LaneSpec, ...],
    lookup: supply_chain.Lookup,
) -> list[Observation]:
    live = reading.live

    def known(group: str, kind: str) -> bool:
        return (group, kind) in live.read

    images = supply_chain.checks(live.objects, lanes, lookup)
    circumstances = circumstances_of(reading, live.objects, images)
    guarded = guardrails.read(reading, lanes)  # what the lanes' `requires` need read
    found = rules.evaluate(
        live.objects,
        known,
        lanes,
        every_lane=every_lane,
        circumstances=circumstances,
        only=guardrails.elsewhere,
    )
    found += guarded.violations(live, lanes, every_lane)
    sources = {key: obj.source for key, obj in reading.state.objects.items()}
    observations = [observation(v, sources.get(v.key, ""), reading.rules) for v in found]
    held = {(v.rule, v.key) for v in found}
    for violation in _desired_violations(reading, known, lanes, every_lane, lookup):
        if (violation.rule, violation.key) not in held:
            observations.append(observation(violation, sources[violation.key], reading.rules, True))
    guarded.mark(live)
    head = circumstances.head or rules.GitHead("")
    if reading.cluster is not None and reading.cluster.pk:
        kinds = {kind for _, kind in live.read}
        commits = image_uses.Commits(head.revision, reading.policy.source)
        cluster = reading.cluster
        reading.afterwards.append(  # kept once the scan records (never by a dry run)
            lambda: image_uses.record(
                reading.policy, cluster, live.objects, lanes, images, found, commits, kinds
            )
        )
        # What Git manages there, for the admission webhook (also kept only by a record).
        reading.afterwards.append(
            lambda: managed_objects.record(reading.policy, cluster, reading.state)
        )
        # A lane namespace created since `drift admission install` is not labelled, so the
        # webhook would not see it: labelled here (nothing when the webhook is not installed).
        reading.afterwards.append(lambda: lane_labels.keep(cluster, reading.connection))
    return observations


def lanes_of(
    cluster: Cluster | None,
) -> tuple[tuple[rules.LaneSpec, ...], tuple[rules.LaneSpec, ...]]:
    """The cluster's lanes (whose namespaces are whose) and every lane (whose Secrets,
    accounts and identities are whose)."""
    if cluster is None or not cluster.pk:
        return (), ()
    lanes = lane_specs(cluster.lanes.all())
    return lanes, (lane_specs(Lane.objects.all()) if lanes else ())


def circumstances_of(
    reading: Reading,
    objects: Mapping[ObjectKey, Mapping[str, Any]],
    images: Mapping[tuple[str, str], ImageCheck],
) -> rules.Circumstances:
    """What the rules know besides the objects: now, Git's head, the audit feed's writes,
    the GitOps tools' verdicts, what the registries said about the images."""
    source = reading.policy.source
    head = rules.GitHead(
        reading.state.revision,
        source.revision_since if source.last_revision == reading.state.revision else None,
    )
    cluster = reading.cluster
    writes = (
        audit_feed.writes(cluster, objects, _plurals(reading.discovery, objects))
        if cluster is not None and cluster.pk
        else {}
    )
    return rules.Circumstances(
        now=timezone.now(),
        head=head,
        sync_grace=timedelta(seconds=reading.policy.sync_grace_seconds),
        writes=writes,
        trusted=audit_feed.trusted_identities(),
        drifted=frozenset(o.key for o in reading.drift),
        gitops=gitops.deployers(reading.connection, reading.discovery, reading.live),
        images=images,
        sources=(source.url,),
    )


def _plurals(
    discovery: kube.Discovery, objects: Mapping[ObjectKey, Mapping[str, Any]]
) -> Callable[[str, str], str | None]:
    """How the API server names each kind read (audit events name resources)."""
    names: dict[tuple[str, str], str] = {}
    for key, obj in objects.items():
        if (key.group, key.kind) not in names:
            found = discovery.find(str(obj.get("apiVersion", "")), key.kind)
            if found is not None:
                names[key.group, key.kind] = found.plural
    return lambda group, kind: names.get((group, kind))


def _desired_violations(
    reading: Reading,
    known: rules.Known,
    lanes: tuple[rules.LaneSpec, ...],
    every_lane: tuple[rules.LaneSpec, ...],
    lookup: supply_chain.Lookup | None = None,
) -> list[rules.Violation]:
    """The rules on what the cluster would hold once Git's objects are applied: Git's
    versions over the live objects (what Git does not manage stays as it is). Only Git's
    objects are judged; rules that need writes or the head judge what runs, not this;
    the images Git declares are looked up like the running ones.
    When nothing Git declares differs from what runs (no drift, nothing missing), Git's
    side is what runs, judged already: the common steady state costs nothing more."""
    declared = reading.state.objects
    differs = {o.key for o in reading.drift if o.key in declared}
    if not differs:
        return []
    after: dict[ObjectKey, Mapping[str, Any]] = dict(reading.live.objects)
    after.update({key: obj.manifest for key, obj in declared.items()})
    # What differs, and what in its namespaces may refer to it (by selector or by name).
    namespaces = {key.namespace for key in differs}
    referrers = {key for key in declared if key.namespace in namespaces and key.kind in REFERRERS}
    judge = frozenset(differs | referrers)
    images = supply_chain.checks({key: after[key] for key in differs}, lanes, lookup)
    supply = rules.Circumstances(images=images, sources=(reading.policy.source.url,))
    found = rules.evaluate(
        after, known, lanes, every_lane=every_lane, circumstances=supply, judge=judge
    )
    return [v for v in found if v.key in declared]


# Kinds whose verdict depends on other objects of their namespace: a change to those in
# Git may break them though they do not change themselves.
REFERRERS = frozenset(
    {
        "Service",
        "Ingress",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "NetworkPolicy",
        "RoleBinding",
        "ClusterRoleBinding",
    }
)


def lane_specs(lanes: Iterable[Lane]) -> tuple[rules.LaneSpec, ...]:
    """Lane rows as the rules see them."""
    return tuple(
        rules.LaneSpec(
            lane.name,
            tuple(lane.namespaces),
            tuple(lane.identities),
            tuple(lane.registries),
            tuple(lane.service_accounts),
            tuple(lane.secrets),
            dict(lane.requires or {}),
            dict(lane.supply or {}),
            dict(lane.admission or {}),
        )
        for lane in lanes
    )


def observation(
    violation: rules.Violation, source: str, policy: EnginePolicy, in_git: bool = False
) -> Observation:
    """The violation for the ledger; ``source`` is the Git file declaring the object."""
    message = f"Git declares it: {violation.message}" if in_git else violation.message
    found: dict[str, Any] = {
        "paths": [e.path for e in violation.evidence[:1] if e.path],
        "message": message,
        "evidence": [e.as_dict() for e in violation.evidence],
        "state": "desired" if in_git else "live",
    }
    return Observation(
        key=violation.key,
        api_version=violation.api_version,
        type=FindingType.ALIGNMENT,
        severity=policy.alignment_level(violation.key, violation.rule) or violation.severity,
        diff=found,
        source=source,
        rule=violation.rule,
        in_git=in_git,
    )
