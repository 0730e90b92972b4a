"""The index of objects Git manages on each cluster (alignment.ManagedObject), written
after every scan that records: what the admission webhook reads to tell a change by hand
from a change through Git, and where Git declares the object.

Only what changed is written: a scan that read what the last one read writes nothing. A
changed row is replaced (deleted and inserted) rather than updated, so that every write
leaves a new id or a missing one: the webhook sees that something changed from the
table's count and highest id alone. Rows are deleted for objects Git no longer declares
only when Git was read completely: a manifest that did not parse is not an object gone.
"""

from __future__ import annotations

from django.db import transaction

from alignment.models import ManagedObject
from drift.models import Cluster, DriftPolicy
from drift.services.desired import DesiredState

Identity = tuple[str, str, str, str]  # api_group, kind, namespace, name
Place = tuple[str, str, str]  # source, revision, path

_LIMITS: dict[str, int] = {
    field.name: field.max_length
    for field in ManagedObject._meta.concrete_fields
    if isinstance(field.max_length, int)
}


def record(policy: DriftPolicy, cluster: Cluster, state: DesiredState) -> int:
    """Make the index hold what ``state`` (what the policy's Git declares for the
    cluster, as a scan read it) says; the rows written (inserted or deleted)."""
    source = policy.source.url[: _LIMITS["source"]]
    declared: dict[Identity, Place] = {}
    for key, obj in state.objects.items():
        identity = (key.group, key.kind, key.namespace, key.name)
        if _fits(identity):
            declared[identity] = (source, state.revision, obj.source[: _LIMITS["path"]])
    held = ManagedObject.objects.filter(policy=policy, cluster=cluster)
    stale: list[int] = []
    for pk, group, kind, namespace, name, *place in held.values_list(
        "pk", "api_group", "kind", "namespace", "name", "source", "revision", "path"
    ).iterator(chunk_size=5000):
        identity = (group, kind, namespace, name)
        wanted = declared.get(identity)
        if wanted is not None and list(wanted) == place:
            del declared[identity]  # unchanged: nothing to write
        elif wanted is not None or state.complete:
            stale.append(pk)  # changed (replaced below), or gone from a complete read
    if not stale and not declared:
        return 0
    fresh = [
        ManagedObject(
            policy=policy,
            cluster=cluster,
            api_group=group,
            kind=kind,
            namespace=namespace,
            name=name,
            source=place[0],
            revision=place[1],
            path=place[2],
        )
        for (group, kind, namespace, name), place in declared.items()
    ]
    with transaction.atomic():
        for start in range(0, len(stale), 5000):
            ManagedObject.objects.filter(pk__in=stale[start : start + 5000]).delete()
        # Two scans of the pair at once write the same rows: the first one's stay.
        ManagedObject.objects.bulk_create(fresh, batch_size=1000, ignore_conflicts=True)
    return len(stale) + len(fresh)


def _fits(identity: Identity) -> bool:
    """Whether the object's identity fits the index. One that does not cannot exist in a
    cluster either (the API server limits names more tightly): Git declares it in vain."""
    limits = (_LIMITS["api_group"], _LIMITS["kind"], _LIMITS["namespace"], _LIMITS["name"])
    return all(len(part) <= limit for part, limit in zip(identity, limits, strict=True))
