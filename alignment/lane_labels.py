"""The namespace labels the admission webhook's namespaceSelector matches.

Each namespace one lane of the cluster owns carries `driftcontrol.io/admission=<the
configuration's name>` and `driftcontrol.io/lane=<lane>`. The selector matches the first
only, with the configuration's own name as the value, so two installations (two
DriftControls, or tests sharing an API server) each match their own namespaces. The
control plane's namespace and DriftControl's own never carry it: refusing their writes is
how admission webhooks take clusters down.

`drift admission install` writes them; a scan keeps them (`keep`), since a namespace
created after the install is not seen by the webhook until it is labelled.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction

from alignment.models import AdmissionInstallation
from alignment.rules import LaneSpec
from drift import kube
from drift.models import Cluster
from driftcontrol import audit

log = logging.getLogger(__name__)

ADMISSION_LABEL = "driftcontrol.io/admission"
LANE_LABEL = "driftcontrol.io/lane"
# How the API server's managedFields name DriftControl's admission writes.
FIELD_MANAGER = "driftcontrol-admission"
CONTROL_PLANE = "kube-system"


def never_matched() -> tuple[str, ...]:
    """The namespaces the webhook never sees: the control plane's and DriftControl's."""
    return tuple(sorted({CONTROL_PLANE, settings.ADMISSION_NAMESPACE}))


@dataclass(frozen=True)
class Plan:
    """What the namespaces' labels must become for one configuration."""

    matched: dict[str, str] = field(default_factory=dict)  # namespace -> its lane
    label: dict[str, str] = field(default_factory=dict)  # those whose labels must change
    unlabel: tuple[str, ...] = ()  # labelled for this configuration, no lane's now
    contested: dict[str, tuple[str, ...]] = field(default_factory=dict)  # two owners or more

    @property
    def changes(self) -> bool:
        return bool(self.label or self.unlabel)


def plan(
    namespaces: Iterable[Mapping[str, Any]],
    lanes: Sequence[LaneSpec],
    name: str,
    excluded: Collection[str],
) -> Plan:
    """The labels each namespace (as the API server lists it) must carry for the
    configuration ``name``: those of its one owning lane; none when no lane owns it, or two
    do (lane.namespace's finding says which should: the webhook judges neither)."""
    matched: dict[str, str] = {}
    label: dict[str, str] = {}
    unlabel: list[str] = []
    contested: dict[str, tuple[str, ...]] = {}
    for namespace in namespaces:
        metadata = namespace.get("metadata") or {}
        namespace_name = str(metadata.get("name") or "")
        labels = metadata.get("labels") or {}
        owners = tuple(lane.name for lane in lanes if lane.owns(namespace_name))
        if len(owners) > 1:
            contested[namespace_name] = owners
        if len(owners) == 1 and namespace_name not in excluded:
            matched[namespace_name] = owners[0]
            wanted = {ADMISSION_LABEL: name, LANE_LABEL: owners[0]}
            if any(labels.get(key) != value for key, value in wanted.items()):
                label[namespace_name] = owners[0]
        elif labels.get(ADMISSION_LABEL) == name:
            unlabel.append(namespace_name)
    return Plan(matched, label, tuple(sorted(unlabel)), contested)


def carry_out(connection: kube.Kube, planned: Plan, name: str) -> None:
    """Write the plan's labels (raises the first kube.KubeError; what was written stays,
    and the next install or scan finishes it)."""
    for namespace, lane in sorted(planned.label.items()):
        connection.label_namespace(
            namespace, {ADMISSION_LABEL: name, LANE_LABEL: lane}, FIELD_MANAGER
        )
    remove(connection, planned.unlabel)


def remove(connection: kube.Kube, namespaces: Iterable[str]) -> None:
    """Take both labels off the namespaces (a merge patch's null removes a label)."""
    for namespace in namespaces:
        connection.label_namespace(
            namespace, {ADMISSION_LABEL: None, LANE_LABEL: None}, FIELD_MANAGER
        )


def lanes_of(cluster: Cluster) -> tuple[LaneSpec, ...]:
    """The cluster's lanes, as far as labelling needs them (which namespaces are whose)."""
    return tuple(
        LaneSpec(lane.name, tuple(lane.namespaces), admission=dict(lane.admission or {}))
        for lane in cluster.lanes.all()
    )


def keep(cluster: Cluster, connection: kube.Kube) -> Plan | None:
    """A scan's step: when the webhook is installed on the cluster, label the lane
    namespaces created since (and unlabel those no lane owns any more). One list of the
    namespaces per scan; nothing when the webhook is not installed. An identity that may
    not patch namespaces is logged, never a failed scan: the webhook then misses the new
    namespaces until `drift admission install` runs again."""
    name = settings.ADMISSION_WEBHOOK_NAME
    installed = AdmissionInstallation.objects.filter(
        cluster=cluster, name=name, removed_at=None
    ).first()
    if installed is None:
        return None
    try:
        planned = plan(connection.namespaces(), lanes_of(cluster), name, never_matched())
        carry_out(connection, planned, name)
    except kube.KubeError as error:
        log.warning(
            "cluster %s: the admission webhook's namespace labels could not be kept (%s); "
            "new lane namespaces are not seen by the webhook until `drift admission "
            "install --cluster %s` runs",
            cluster.name,
            error,
            cluster.name,
        )
        return None
    if planned.changes or sorted(planned.matched) != sorted(installed.namespaces):
        _record(installed, planned)
    return planned


def _record(installed: AdmissionInstallation, planned: Plan) -> None:
    with transaction.atomic():
        AdmissionInstallation.objects.filter(pk=installed.pk).update(
            namespaces=sorted(planned.matched)
        )
        audit.record(
            "system:scanner",
            "admission.namespaces_labelled",
            installed,
            {
                "cluster": installed.cluster.name,
                "labelled": sorted(planned.label),
                "unlabelled": list(planned.unlabel),
            },
        )
