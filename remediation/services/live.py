"""The cluster a plan or an execution works on, connected once."""

from __future__ import annotations

from typing import Any

from drift import kube
from drift.engine.apply_form import ApplySchema, apply_form
from drift.models import Cluster
from drift.services import clusters, schemas
from remediation.models import RemediationStep
from remediation.services.planning import PlanError, PlanUnreachable


class LiveCluster:
    """A connection to the request's cluster with its API discovered once, for every object
    of one plan or one execution."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.connection = clusters.connect(cluster)
        self.discovery = self.connection.discover()
        self._schema: ApplySchema | None = None
        self._schema_read = False

    def apply_form(self, manifest: dict[str, Any]) -> dict[str, Any]:
        """The manifest as this cluster's server-side apply accepts it (quantities as
        strings, keyed list items with their default keys); the manifest itself unchanged."""
        if not self._schema_read:
            self._schema, self._schema_read = schemas.apply_schema(self.connection), True
        return apply_form(manifest, self._schema)

    @classmethod
    def to_plan(cls, cluster: Cluster) -> LiveCluster:
        """Connected for planning: a cluster out of reach is a reason to store no plan."""
        try:
            return cls(cluster)
        except kube.Unreachable as error:
            raise PlanUnreachable(f"cannot reach cluster {cluster.name} to plan: {error}") from None
        except kube.KubeError as error:
            raise PlanError(f"cannot read cluster {cluster.name} to plan: {error}") from None

    def resource(self, step: RemediationStep) -> kube.Resource:
        found = self.discovery.find(step.api_version, step.kind)
        if found is None:
            raise kube.KubeError(f"the cluster no longer serves {step.kind} ({step.api_version})")
        return found

    def read(self, step: RemediationStep) -> dict[str, Any] | None:
        """The step's object as it is now (None: it does not exist)."""
        return self.connection.get(self.resource(step), step.namespace or None, step.name)
