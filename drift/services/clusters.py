"""Reaching clusters: credentials are decrypted here and handed to the Kubernetes door,
with what the server's configuration lets a kubeconfig use (credential plugins, files)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from drift import kube
from drift.engine.rules import selector_matches
from drift.models import Cluster, DriftPolicy


def credential_policy() -> kube.CredentialPolicy:
    """What kubeconfigs may use on this server: its own configuration decides, never the
    kubeconfig's author."""
    return kube.CredentialPolicy(
        exec_allowlist=frozenset(settings.KUBECONFIG_EXEC_ALLOWLIST),
        file_root=settings.KUBECONFIG_FILE_ROOT,
        exec_timeout=float(settings.KUBECONFIG_EXEC_TIMEOUT_SECONDS),
    )


def check_kubeconfig(kubeconfig: str, context: str | None = None) -> str:
    """The API server of a kubeconfig someone gives (API, admin, `drift apply`), once it
    is found safe and usable on this server; raises kube.BadKubeconfig naming the fields."""
    return kube.check_kubeconfig(kubeconfig, context or None, credential_policy())


def inspect_kubeconfig(kubeconfig: str) -> None:
    """Refuse (kube.BadKubeconfig) a kubeconfig that asks for a command to run or a file to
    read that this server does not allow, even one too incomplete to use yet."""
    kube.inspect_kubeconfig(kubeconfig, credential_policy())


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
