"""What a scope (a cluster, a lane, a policy, the fleet) covers: its findings, and the
objects its latest scans compared."""

from __future__ import annotations

from django.db.models import OuterRef, Q, QuerySet, Subquery, Sum

from drift.models import RollupScope, Scan, ScanStatus


def scope_filter(scope: str, scope_id: int | None) -> Q:
    """The scope's findings (or any rows with a cluster and a policy), as a filter."""
    if scope == RollupScope.CLUSTER:
        return Q(cluster_id=scope_id)
    if scope == RollupScope.LANE:
        return Q(cluster__lanes__id=scope_id)
    if scope == RollupScope.POLICY:
        return Q(policy_id=scope_id)
    return Q()


def _latest_successful_scans() -> QuerySet[Scan]:
    """The latest successful scan of every (policy, cluster) pair."""
    latest = Scan.objects.filter(
        policy=OuterRef("policy"), cluster=OuterRef("cluster"), status=ScanStatus.SUCCEEDED
    ).order_by("-created_at")
    return Scan.objects.filter(pk=Subquery(latest.values("pk")[:1])).order_by()


def objects_by_pair() -> dict[tuple[int, int], int]:
    """What the latest successful scan of every pair compared: {(cluster id, policy id):
    objects}, from which any scope's objects_in_scope adds up."""
    rows = _latest_successful_scans().values_list("cluster_id", "policy_id", "objects_desired")
    return {(cluster_id, policy_id): n for cluster_id, policy_id, n in rows}


def objects_in_scope(scope: str = RollupScope.FLEET, scope_id: int | None = None) -> int:
    """Objects compared by the latest successful scan of every (policy, cluster) pair."""
    scans = _latest_successful_scans()
    if scope != RollupScope.FLEET and scope_id is None:
        raise ValueError(f"a {scope} scope needs its id")
    if scope == RollupScope.CLUSTER:
        scans = scans.filter(cluster_id=int(scope_id or 0))
    elif scope == RollupScope.LANE:
        scans = scans.filter(cluster__lanes__id=int(scope_id or 0))
    elif scope == RollupScope.POLICY:
        scans = scans.filter(policy_id=int(scope_id or 0))
    return int(scans.aggregate(n=Sum("objects_desired"))["n"] or 0)
