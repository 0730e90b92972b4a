"""The API servers' audit feed: who wrote which object, as the API server itself saw it.

A cluster's kube-apiserver posts `audit.k8s.io/v1` EventLists to /hooks/audit/<cluster>
(its `--audit-webhook-config-file` names the URL and the bearer token). Only completed,
successful writes to objects are kept, once each (by audit ID); reads, failures,
dry runs, status updates and the control plane's own bookkeeping are dropped on arrival.
Attribution and the `lane.deployer` rule read them back per object.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from fnmatch import fnmatchcase
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from alignment.models import KubeWrite
from alignment.rules import Write
from drift.engine.normalize import ObjectKey
from drift.models import Cluster
from driftcontrol import audit
from driftcontrol.audit import Actor
from driftcontrol.exceptions import DomainError, NotAllowed

WRITE_VERBS = frozenset({"create", "update", "patch", "delete"})
# Bookkeeping nobody deploys: kept out of the table, whoever writes it.
NOT_DEPLOYED = frozenset(
    {
        "events",
        "leases",
        "tokenreviews",
        "subjectaccessreviews",
        "selfsubjectaccessreviews",
        "localsubjectaccessreviews",
        "selfsubjectrulesreviews",
        "endpoints",
        "endpointslices",
        "serviceaccounts/token",
    }
)
# The control plane's own identities: they write everywhere, as Kubernetes intends.
CONTROL_PLANE = (
    "system:kube-controller-manager",
    "system:kube-scheduler",
    "system:apiserver",
    "system:node:*",
    "system:serviceaccount:kube-system:*",
)
# Writes kept per object for the rules and attribution: the latest ones.
PER_OBJECT = 20
NAMES_PER_QUERY = 1000
ALL_AT_ONCE = 20_000  # a cluster's recent writes read in one query up to this many


class BadBatch(DomainError):
    """An audit batch (or token) that cannot be taken: nothing of it is stored."""


@dataclass(frozen=True)
class Ingested:
    received: int  # events in the batch
    kept: int  # new writes stored (a redelivered batch keeps none)


def issue_token(cluster: Cluster, actor: Actor) -> str:
    """A new bearer token for the cluster's audit webhook; only its digest is stored, and
    the previous token stops working."""
    token = secrets.token_urlsafe(32)
    adopt_token(cluster, token, actor)
    return token


def adopt_token(cluster: Cluster, token: str, actor: Actor) -> None:
    """Accept a token the API server already presents (a devcluster's, say)."""
    token = token.strip()
    if len(token) < 16 or not token.isascii() or any(c.isspace() for c in token):
        raise BadBatch("an audit feed token is at least 16 printable characters, no spaces")
    with transaction.atomic():
        locked = Cluster.objects.select_for_update().get(pk=cluster.pk)
        if hmac.compare_digest(locked.audit_token_digest, _digest(token)):
            return  # the same token again: nothing changes
        locked.audit_token_digest = _digest(token)
        locked.save(update_fields=["audit_token_digest", "updated_at"])
        audit.record(actor, "cluster.audit_feed_token", locked, {"cluster": locked.name})
    cluster.audit_token_digest = locked.audit_token_digest


def webhook_kubeconfig(cluster: Cluster, token: str, base_url: str) -> str:
    """The file kube-apiserver's --audit-webhook-config-file names, for this cluster."""
    url = f"{base_url.rstrip('/')}/hooks/audit/{cluster.name}"
    return (
        "apiVersion: v1\nkind: Config\nclusters:\n- name: driftcontrol\n  cluster:\n"
        f"    server: {url}\nusers:\n- name: kube-apiserver\n  user:\n    token: {token}\n"
        "contexts:\n- name: audit\n  context:\n    cluster: driftcontrol\n"
        "    user: kube-apiserver\ncurrent-context: audit\n"
    )


def authenticate(cluster_name: str, authorization: str | None) -> Cluster:
    """The cluster whose audit webhook presents this `Authorization: Bearer` header.
    Every refusal reads the same, so the hook does not say which cluster names exist."""
    refusal = NotAllowed("the audit feed token is missing or not this cluster's")
    scheme, _, token = (authorization or "").partition(" ")
    cluster = Cluster.objects.filter(name=cluster_name).first()
    if cluster is None or not cluster.audit_token_digest or scheme.lower() != "bearer":
        raise refusal
    if not hmac.compare_digest(cluster.audit_token_digest, _digest(token.strip())):
        raise refusal
    return cluster


def ingest(cluster: Cluster, body: bytes) -> Ingested:
    """Store the batch's writes to objects; an event seen before is skipped."""
    try:
        batch = json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise BadBatch(f"the audit batch is not JSON: {error}") from error
    if not isinstance(batch, dict) or batch.get("kind") != "EventList":
        raise BadBatch("the audit batch is not an audit.k8s.io EventList")
    items = batch.get("items")
    if not isinstance(items, list):
        raise BadBatch("the audit batch has no items list")
    rows = {
        row.audit_id: row
        for index, event in enumerate(items)
        if (row := _write(cluster, event, index)) is not None
    }
    seen = KubeWrite.objects.filter(cluster=cluster, audit_id__in=list(rows))
    for audit_id in seen.values_list("audit_id", flat=True):
        del rows[audit_id]
    # A concurrent delivery of the same batch may still win the race: it keeps them.
    KubeWrite.objects.bulk_create(rows.values(), ignore_conflicts=True)
    return Ingested(len(items), len(rows))


def _write(cluster: Cluster, event: Any, index: int) -> KubeWrite | None:
    if not isinstance(event, dict):
        raise BadBatch(f"audit event {index} is not an object")
    ref = event.get("objectRef") or {}
    user = event.get("user") or {}
    verb = str(event.get("verb", ""))
    resource = str(ref.get("resource", ""))
    subresource = str(ref.get("subresource", ""))
    code = (event.get("responseStatus") or {}).get("code")
    if (
        event.get("stage") != "ResponseComplete"
        or verb not in WRITE_VERBS
        or not ref.get("name")
        or "dryRun=" in str(event.get("requestURI", ""))
        or (isinstance(code, int) and code >= 400)
        or subresource == "status"
        or resource in NOT_DEPLOYED
        or f"{resource}/{subresource}" in NOT_DEPLOYED
        or _matches(str(user.get("username", "")), CONTROL_PLANE)
    ):
        return None
    at = parse_datetime(str(event.get("requestReceivedTimestamp", "")))
    audit_id = str(event.get("auditID", ""))
    if at is None or not audit_id or not user.get("username"):
        raise BadBatch(f"audit event {index} lacks its auditID, user or timestamp")
    return KubeWrite(
        cluster=cluster,
        audit_id=audit_id[:64],
        verb=verb,
        user=str(user["username"])[:253],
        groups=[str(g) for g in user.get("groups") or []][:32],
        user_agent=str(event.get("userAgent", ""))[:300],
        api_group=str(ref.get("apiGroup", ""))[:253],
        api_version=str(ref.get("apiVersion", ""))[:64],
        resource=resource[:253],
        subresource=subresource[:64],
        namespace=str(ref.get("namespace", ""))[:253],
        name=str(ref["name"])[:253],
        code=code if isinstance(code, int) else None,
        at=at,
    )


def writes(
    cluster: Cluster,
    keys: Iterable[ObjectKey],
    plural_of: Callable[[str, str], str | None],
) -> dict[ObjectKey, tuple[Write, ...]]:
    """The latest recorded writes to each object, oldest first (empty for an object the
    feed has nothing on). ``plural_of(group, kind)`` names the resource as audited."""
    wanted: dict[tuple[str, str, str, str], ObjectKey] = {}
    for key in keys:
        plural = plural_of(key.group, key.kind)
        if plural:
            wanted[key.group, plural, key.namespace, key.name] = key
    if not wanted or not cluster.audit_token_digest:
        return {}
    since = timezone.now() - timedelta(days=settings.KUBE_WRITES_RETENTION_DAYS)
    found: dict[ObjectKey, list[Write]] = {}
    recent = KubeWrite.objects.filter(cluster=cluster, at__gte=since)
    if recent.count() <= ALL_AT_ONCE:
        batches = [recent]  # fewer writes than objects, typically: one query for all
    else:  # by name, in chunks: the (cluster, resource, namespace, name) index answers each
        names = sorted({name for (_, _, _, name) in wanted})
        batches = [
            recent.filter(name__in=names[start : start + NAMES_PER_QUERY])
            for start in range(0, len(names), NAMES_PER_QUERY)
        ]
    for rows in batches:
        for row in rows.order_by("at", "id").iterator():
            owner = wanted.get((row.api_group, row.resource, row.namespace, row.name))
            if owner is not None:
                found.setdefault(owner, []).append(as_write(row))
    return {key: tuple(found_writes[-PER_OBJECT:]) for key, found_writes in found.items()}


def guess_plural(kind: str) -> str:
    """The resource name Kubernetes derives from a kind (its own guess, which CRDs and
    almost every built-in kind follow), when discovery is not at hand."""
    lower = kind.lower()
    if lower.endswith("s"):
        return lower + "es"
    if lower.endswith("y"):
        return lower[:-1] + "ies"
    return lower + "s"


def recorded(cluster: Cluster, group: str, kind: str, namespace: str, name: str) -> list[KubeWrite]:
    """The latest writes to one object the feed recorded, newest first (finding pages)."""
    return list(
        KubeWrite.objects.filter(
            cluster=cluster,
            api_group=group,
            resource=guess_plural(kind),
            namespace=namespace,
            name=name,
        ).order_by("-at", "-id")[:PER_OBJECT]
    )


def as_write(row: KubeWrite) -> Write:
    return Write(
        user=row.user,
        verb=row.verb,
        at=row.at,
        groups=tuple(row.groups or ()),
        user_agent=row.user_agent,
        subresource=row.subresource,
        source="audit",
        audit_id=row.audit_id,
    )


def trusted_identities() -> tuple[str, ...]:
    """Who may write any lane's objects: the control plane and the identities the
    settings trust (DriftControl's own, when it remediates)."""
    return CONTROL_PLANE + tuple(settings.ALIGNMENT_TRUSTED_WRITERS)


def prune(now: datetime | None = None) -> int:
    """Forget writes older than the retention; returns how many went."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.KUBE_WRITES_RETENTION_DAYS)
    deleted, _ = KubeWrite.objects.filter(at__lt=cutoff).delete()
    return deleted


def _matches(name: str, globs: Iterable[str]) -> bool:
    return any(fnmatchcase(name, glob) for glob in globs)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
