"""Reaching clusters: credentials are decrypted here and handed to the Kubernetes door,
with what the server's configuration lets a kubeconfig use (drift.kubeconfigs)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from drift import kube
from drift.engine.rules import selector_matches
from drift.kubeconfigs import check_kubeconfig, credential_policy, inspect_kubeconfig
from drift.models import Cluster, DriftPolicy


def connect(cluster: Cluster) -> kube.Kube:
    """A connection with the cluster's stored kubeconfig (raises kube.BadKubeconfig), which
    is checked again here: it may have been stored before this server refused it."""
    kubeconfig = cluster.read_credentials()
    if not kubeconfig:
        raise kube.BadKubeconfig(
            f"cluster {cluster.name} has no credentials; set spec.kubeconfig with `drift apply`"
        )
    return kube.Kube(kubeconfig, cluster.context or None, credentials=credential_policy())


def record_contact(cluster: Cluster, version: str = "", error: str = "") -> None:
    """Remember when the cluster last answered (or why it did not)."""
    fields: dict[str, Any] = {"last_error": error[:2000]}
    if not error:
        fields |= {"last_contact_at": timezone.now(), "server_version": version[:64]}
    Cluster.objects.filter(pk=cluster.pk).update(**fields)


def targets(policy: DriftPolicy) -> QuerySet[Cluster]:
    """Enabled clusters the policy targets: by name, or by label selector."""
    clusters = Cluster.objects.filter(enabled=True)
    chosen = {c.pk for c in clusters if is_target(policy, c)}
    return clusters.filter(pk__in=chosen).order_by("name")


def is_target(policy: DriftPolicy, cluster: Cluster) -> bool:
    """Whether the policy targets this (enabled) cluster: by name, or by label selector."""
    return cluster.enabled and (
        cluster.name in policy.cluster_names
        or bool(
            policy.cluster_selector and selector_matches(policy.cluster_selector, cluster.labels)
        )
    )


__all__ = [
    "check_kubeconfig",
    "connect",
    "credential_policy",
    "inspect_kubeconfig",
    "is_target",
    "record_contact",
    "targets",
]
