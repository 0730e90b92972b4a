"""Reaching clusters: credentials are decrypted here and handed to the Kubernetes door."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from drift import kube
from drift.engine.rules import selector_matches
from drift.models import Cluster, DriftPolicy


def connect(cluster: Cluster) -> kube.Kube:
    """A connection with the cluster's stored kubeconfig (raises kube.BadKubeconfig)."""
    kubeconfig = cluster.read_credentials()
    if not kubeconfig:
        raise kube.BadKubeconfig(
            f"cluster {cluster.name} has no credentials; set spec.kubeconfig with `drift apply`"
        )
    return kube.Kube(kubeconfig, cluster.context or None)


def record_contact(cluster: Cluster, version: str = "", error: str = "") -> None:
    """Remember when the cluster last answered (or why it did not)."""
    fields: dict[str, Any] = {"last_error": error[:2000]}
    if not error:
        fields |= {"last_contact_at": timezone.now(), "server_version": version[:64]}
    Cluster.objects.filter(pk=cluster.pk).update(**fields)


def targets(policy: DriftPolicy) -> QuerySet[Cluster]:
    """Enabled clusters the policy targets: by name, or by label selector."""
    clusters = Cluster.objects.filter(enabled=True)
    chosen = {
        c.pk
        for c in clusters
        if c.name in policy.cluster_names
        or (policy.cluster_selector and selector_matches(policy.cluster_selector, c.labels))
    }
    return clusters.filter(pk__in=chosen).order_by("name")
