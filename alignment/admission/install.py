"""Installing the admission webhook into a cluster, and removing it.

`install` writes one ValidatingWebhookConfiguration that can never block the cluster:
failurePolicy Ignore (an API server that gets no answer lets the change through),
a timeout of 2 seconds at most, no side effects (dry runs are sent too), and a namespace
selector that matches only the namespaces DriftControl labelled for a lane
(alignment.lane_labels), never kube-system nor DriftControl's own. It is recorded as an
AdmissionInstallation, kept after removal, so that a change can later be told to have
come while the webhook was there (alignment.admission.availability).

Both are idempotent: running either twice leaves the cluster as running it once does.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import yaml
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from alignment import lane_labels
from alignment.admission import authority
from alignment.models import AdmissionInstallation
from drift import kube
from drift.kubeconfigs import credential_policy
from drift.models import Cluster
from drift.services import clusters
from driftcontrol import audit
from driftcontrol.audit import Actor
from driftcontrol.exceptions import ClusterRefused, ClusterUnreachable, DomainError

WEBHOOK = "lanes.admission.driftcontrol.io"
MODES = ("warn", "deny")
# The API server waits this long at most before it lets the change through (fail open).
MAX_TIMEOUT_SECONDS = 2
CHANGES = ["CREATE", "UPDATE", "DELETE"]
# The namespaced resources a lane can break, by API group: workloads, what they run as
# and with, who may do what, what reaches them, what keeps them up. Not events, leases or
# endpoints: the control plane's bookkeeping, which no lane owns.
RESOURCES: dict[str, list[str]] = {
    "": [
        "pods",
        "services",
        "configmaps",
        "secrets",
        "serviceaccounts",
        "persistentvolumeclaims",
        "replicationcontrollers",
        "resourcequotas",
        "limitranges",
        "replicationcontrollers/scale",
    ],
    "apps": [
        "deployments",
        "statefulsets",
        "daemonsets",
        "replicasets",
        "deployments/scale",
        "statefulsets/scale",
        "replicasets/scale",
    ],
    "batch": ["jobs", "cronjobs"],
    "rbac.authorization.k8s.io": ["roles", "rolebindings"],
    "networking.k8s.io": ["networkpolicies", "ingresses"],
    "extensions": ["ingresses", "networkpolicies", "deployments", "deployments/scale"],
    "policy": ["poddisruptionbudgets"],
    "autoscaling": ["horizontalpodautoscalers"],
}
_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)$")


class InstallError(DomainError):
    """The webhook cannot be installed (or removed) as asked."""


class InstallRefused(InstallError, ClusterRefused):
    """The cluster refused a write the installation needs: its status and message say why."""


class InstallUnreachable(InstallError, ClusterUnreachable):
    """The cluster could not be reached."""


@dataclass(frozen=True)
class Installed:
    """What `install` did."""

    installation: AdmissionInstallation
    configuration: dict[str, Any]  # as the API server stored it
    plan: lane_labels.Plan  # the namespaces matched, and the labels changed


@dataclass(frozen=True)
class Uninstalled:
    """What `uninstall` did."""

    removed: bool  # False: the cluster held no configuration of that name
    unlabelled: tuple[str, ...]
    installation: AdmissionInstallation | None  # the row closed, if one was open


def webhook_url(base: str, cluster_name: str) -> str:
    """Where the cluster's API server sends its AdmissionReviews: `<base>/validate/<cluster>`.
    The API server calls webhooks over TLS only, with no query, fragment or user."""
    parts = urlsplit(base.strip())
    if parts.scheme != "https" or not parts.hostname:
        raise InstallError(
            f"the webhook URL must be https://HOST[:PORT] (the API server calls webhooks "
            f"over TLS only), not {base!r}"
        )
    if parts.query or parts.fragment or parts.username or parts.password:
        raise InstallError(f"the webhook URL {base!r} may have no query, fragment or user")
    return f"{base.strip().rstrip('/')}/validate/{cluster_name}"


def configuration(name: str, url: str, ca_pem: str) -> dict[str, Any]:
    """The ValidatingWebhookConfiguration ``name`` sending to ``url`` (its TLS chained to
    ``ca_pem``); the settings give its timeout and DriftControl's own namespace."""
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/managed-by": "driftcontrol"}},
        "webhooks": [
            {
                "name": WEBHOOK,
                "admissionReviewVersions": ["v1"],
                "sideEffects": "None",
                # No answer (the webhook down, slow or unreachable) lets the change through:
                # DriftControl can never block a cluster. The watcher sees what got in.
                "failurePolicy": "Ignore",
                "timeoutSeconds": min(settings.ADMISSION_TIMEOUT_SECONDS, MAX_TIMEOUT_SECONDS),
                # A request in another version of a kind (extensions/v1beta1 Ingress) is
                # sent converted to the version the rules name, not let past them.
                "matchPolicy": "Equivalent",
                "clientConfig": {
                    "url": url,
                    "caBundle": base64.b64encode(ca_pem.encode()).decode(),
                },
                "rules": [
                    {
                        "apiGroups": [group],
                        "apiVersions": ["*"],
                        "operations": CHANGES,
                        "resources": resources,
                        "scope": "Namespaced",
                    }
                    for group, resources in RESOURCES.items()
                ],
                "namespaceSelector": {
                    "matchExpressions": [
                        {"key": lane_labels.ADMISSION_LABEL, "operator": "In", "values": [name]},
                        # Kubernetes 1.21 and later label every namespace with its name; on
                        # older servers the label is absent and `NotIn` matches, so the
                        # labels alone keep these out there (lane_labels never sets them).
                        {
                            "key": "kubernetes.io/metadata.name",
                            "operator": "NotIn",
                            "values": list(lane_labels.never_matched()),
                        },
                    ]
                },
            }
        ],
    }


def active(cluster: Cluster) -> AdmissionInstallation | None:
    """The cluster's installation of the configured webhook now, if it has one."""
    return AdmissionInstallation.objects.filter(
        cluster=cluster, name=settings.ADMISSION_WEBHOOK_NAME, removed_at=None
    ).first()


def install(
    cluster: Cluster,
    url: str | None = None,
    mode: str = "deny",
    actor: Actor = None,
    kubeconfig: str | None = None,
) -> Installed:
    """Write (or rewrite) the webhook's configuration into the cluster and label its lane
    namespaces; ``mode`` warn caps every lane at warn there. ``kubeconfig``: credentials
    for this one call (an administrator's), when the cluster's own may only read."""
    if mode not in MODES:
        raise InstallError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    name = _name()
    target = webhook_url(url or settings.ADMISSION_PUBLIC_URL, cluster.name)
    # The CA made now if `drift admission serve` never ran, and a serving certificate
    # naming the host the API server will dial (serve picks it up within a minute).
    serving = authority.current([*authority.hosts(), str(urlsplit(target).hostname)])
    wanted = configuration(name, target, serving.ca_pem)
    connection = _connect(cluster, kubeconfig)
    try:
        # Read first: a cluster that cannot be read is left without a configuration.
        listed = connection.namespaces()
        written = connection.apply_webhook_configuration(wanted, lane_labels.FIELD_MANAGER)
    except kube.KubeError as error:
        raise _refusal(cluster, "install the admission webhook", error) from None
    planned = lane_labels.plan(
        listed, lane_labels.lanes_of(cluster), name, lane_labels.never_matched()
    )
    # Recorded as soon as the configuration is in: from now on the API server calls it.
    installation = _record_installed(cluster, name, target, mode, planned, actor)
    try:
        lane_labels.carry_out(connection, planned, name)
    except kube.KubeError as error:
        raise _refusal(
            cluster, "label the lane namespaces (the configuration is installed)", error
        ) from None
    return Installed(installation, written, planned)


def uninstall(cluster: Cluster, actor: Actor = None, kubeconfig: str | None = None) -> Uninstalled:
    """Remove the webhook's configuration from the cluster, then the namespace labels."""
    name = _name()
    connection = _connect(cluster, kubeconfig)
    try:
        labelled = [
            str(namespace["metadata"]["name"])
            for namespace in connection.namespaces(f"{lane_labels.ADMISSION_LABEL}={name}")
        ]
        removed = connection.delete_webhook_configuration(name)
    except kube.KubeError as error:
        raise _refusal(cluster, "remove the admission webhook", error) from None
    installation = _record_removed(cluster, name, removed, labelled, actor)
    try:
        lane_labels.remove(connection, labelled)
    except kube.KubeError as error:
        raise _refusal(
            cluster, "remove the namespace labels (the configuration is removed)", error
        ) from None
    return Uninstalled(removed, tuple(sorted(labelled)), installation)


def _name() -> str:
    """The configuration's name, which is also the label value its selector matches."""
    name = settings.ADMISSION_WEBHOOK_NAME
    if len(name) > 63 or not _LABEL_VALUE.match(name) or name != name.lower():
        raise InstallError(
            f"ADMISSION_WEBHOOK_NAME {name!r} must be a lowercase name of at most 63 "
            "characters (letters, digits, '-', '.'): it names the configuration and is the "
            "namespace label's value"
        )
    return name


def _named(actor: Actor) -> str:
    """How the installation row names who installed it (as the audit log does)."""
    if actor is None or isinstance(actor, str):
        return actor or "system"
    return actor.get_username() if actor.is_authenticated else "anonymous"


def _connect(cluster: Cluster, kubeconfig: str | None = None) -> kube.Kube:
    try:
        if kubeconfig is None:
            return clusters.connect(cluster)
        _same_server(cluster, kubeconfig)
        return kube.Kube(kubeconfig, None, credentials=credential_policy())
    except kube.KubeError as error:
        raise _refusal(cluster, "connect", error) from None


def _same_server(cluster: Cluster, kubeconfig: str) -> None:
    """Refuse credentials for another API server than the cluster's: a webhook installed
    on the wrong cluster would judge it by another cluster's lanes."""
    theirs = _server_of(kubeconfig)
    ours = _server_of(cluster.read_credentials() or "")
    if theirs is None or (ours is not None and theirs.rstrip("/") != ours.rstrip("/")):
        raise kube.BadKubeconfig(
            f"the kubeconfig given is for API server {theirs or '(none in its current context)'}"
            f", not cluster {cluster.name}'s {ours}"
        )


def _server_of(kubeconfig: str) -> str | None:
    """The API server the kubeconfig's current context talks to."""
    try:
        loaded = yaml.safe_load(kubeconfig) or {}
        context = next(
            c["context"] for c in loaded["contexts"] if c["name"] == loaded["current-context"]
        )
        entry = next(c["cluster"] for c in loaded["clusters"] if c["name"] == context["cluster"])
        return str(entry["server"])
    except (yaml.YAMLError, KeyError, TypeError, StopIteration):
        return None


def _refusal(cluster: Cluster, what: str, error: kube.KubeError) -> InstallError:
    if isinstance(error, kube.Unreachable):
        return InstallUnreachable(f"cannot reach cluster {cluster.name} to {what}: {error}")
    if isinstance(error, kube.BadKubeconfig):
        return InstallError(f"cluster {cluster.name}: cannot {what}: {error}")
    return InstallRefused(
        f"cluster {cluster.name} refused to {what}: {error}", cluster.name, error.status, str(error)
    )


def _record_installed(
    cluster: Cluster, name: str, url: str, mode: str, planned: lane_labels.Plan, actor: Actor
) -> AdmissionInstallation:
    """The same URL and mode again only updates the namespaces of the open row; anything
    else closes it and opens another, so each row says how the webhook was while open."""
    now = timezone.now()
    namespaces = sorted(planned.matched)
    with transaction.atomic():
        Cluster.objects.select_for_update().get(pk=cluster.pk)  # one install at a time
        current = AdmissionInstallation.objects.filter(
            cluster=cluster, name=name, removed_at=None
        ).first()
        if current is not None and (current.url, current.mode) == (url, mode):
            current.namespaces = namespaces
            current.save(update_fields=["namespaces"])
        else:
            if current is not None:
                current.removed_at = now
                current.save(update_fields=["removed_at"])
            current = AdmissionInstallation.objects.create(
                cluster=cluster,
                name=name,
                url=url,
                mode=mode,
                namespaces=namespaces,
                installed_by=_named(actor)[:150],
                installed_at=now,
            )
        audit.record(
            actor,
            "admission.installed",
            current,
            {
                "cluster": cluster.name,
                "url": url,
                "mode": mode,
                "namespaces": namespaces,
                "labelled": sorted(planned.label),
                "unlabelled": list(planned.unlabel),
            },
        )
    return current


def _record_removed(
    cluster: Cluster, name: str, removed: bool, labelled: list[str], actor: Actor
) -> AdmissionInstallation | None:
    with transaction.atomic():
        Cluster.objects.select_for_update().get(pk=cluster.pk)
        current = AdmissionInstallation.objects.filter(
            cluster=cluster, name=name, removed_at=None
        ).first()
        if current is not None:
            current.removed_at = timezone.now()
            current.save(update_fields=["removed_at"])
        if current is not None or removed or labelled:
            audit.record(
                actor,
                "admission.uninstalled",
                current if current is not None else cluster,
                {"cluster": cluster.name, "configuration": removed, "unlabelled": labelled},
            )
    return current
