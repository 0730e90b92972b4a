"""Subscription filters: which clusters, lanes and severities a subscription hears about.

Filters read the event's payload at dispatch: its cluster (a finding's, a request's, a
failed scan's), that cluster's lanes as they are at dispatch, and its severity. An event
that has no cluster or no severity (a ping) is not filtered out by that filter: a filter
narrows the events that can be judged by it, it does not drop the ones that cannot.

Names are checked for their form only, not for existence: a subscription may be set up
before the cluster it watches is registered, and must stay editable after a cluster or
lane is removed; a typo then shows as a subscription that hears nothing, in its log.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from django.apps import apps

from driftcontrol.models.webhooks import SeverityFloor, WebhookSubscription

# The form of a cluster's or lane's name (drift.models.clusters.dns_label).
NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
MAX_NAMES = 100
SEVERITY_RANK = {level: rank for rank, level in enumerate(SeverityFloor.values)}


def name_problems(names: Any, what: str) -> list[str]:
    """Why ``names`` cannot be a cluster or lane filter (empty when it can)."""
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        return [f"give a list of {what} names"]
    if len(names) > MAX_NAMES:
        return [f"name at most {MAX_NAMES} {what}s"]
    bad = [n for n in names if not NAME.match(n)]
    if bad:
        return [
            f"{', '.join(repr(n) for n in bad)}: a {what} name is lowercase letters, digits "
            "and '-', starting and ending with a letter or digit (at most 63 characters)"
        ]
    return []


def cluster_of(payload: dict[str, Any]) -> str | None:
    for subject in (payload.get("finding"), payload.get("request"), payload):
        if isinstance(subject, dict) and isinstance(subject.get("cluster"), str):
            return str(subject["cluster"])
    return None


def severity_of(payload: dict[str, Any]) -> str | None:
    for subject in (payload.get("finding"), payload.get("request")):
        if isinstance(subject, dict) and subject.get("severity") in SEVERITY_RANK:
            return str(subject["severity"])
    return None


def lanes_by_cluster(names: Iterable[str]) -> dict[str, set[str]]:
    """Each named cluster's lanes now. The core may not import the app that owns clusters,
    so the model is found through Django's registry; without it, clusters have no lanes."""
    wanted = {n for n in names if n}
    if not wanted:
        return {}
    try:
        cluster_model = apps.get_model("drift", "Cluster")
    except LookupError:
        return {}
    lanes: dict[str, set[str]] = {name: set() for name in wanted}
    rows = cluster_model.lanes.through.objects.filter(cluster__name__in=wanted)
    for cluster, lane in rows.values_list("cluster__name", "lane__name"):
        lanes[cluster].add(lane)
    return lanes


def admits(
    subscription: WebhookSubscription, payload: dict[str, Any], lanes: dict[str, set[str]]
) -> bool:
    """Whether the subscription's filters let this event through (``lanes`` as given by
    `lanes_by_cluster` for the events being dispatched)."""
    cluster = cluster_of(payload)
    if cluster is not None:
        if subscription.clusters and cluster not in subscription.clusters:
            return False
        if subscription.lanes and not lanes.get(cluster, set()) & set(subscription.lanes):
            return False
    severity = severity_of(payload)
    if severity is not None and subscription.min_severity:
        return SEVERITY_RANK[severity] >= SEVERITY_RANK[subscription.min_severity]
    return True
