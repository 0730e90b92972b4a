"""The cluster's GitOps deployers, read during a scan: Argo CD Applications and Flux
Kustomizations, where their custom resources are served, as `sync` rules judge them.

They are listed in every namespace (they usually live in `argocd` or `flux-system`, outside
the policy's scope) through the scan's own connection. A kind read completely joins the
scan's read kinds, so a `sync.verdict` finding on one of its objects resolves when a
later scan no longer sees it; one that cannot be read makes the scan partial, and its
findings stay as they are.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from alignment.rules import sync
from alignment.rules.base import GitOpsApp
from drift import kube
from drift.services.evidence import LiveState

Reader = Callable[[Mapping[str, Any]], GitOpsApp]
# (group, kind, versions this module reads, newest first, how to read one)
DEPLOYERS: tuple[tuple[str, str, tuple[str, ...], Reader], ...] = (
    ("argoproj.io", "Application", ("v1alpha1",), sync.argo_application),
    (sync.FLUX_GROUP, "Kustomization", ("v1", "v1beta2", "v1beta1"), sync.flux_kustomization),
)


def deployers(
    connection: kube.Kube, discovery: kube.Discovery, live: LiveState
) -> tuple[GitOpsApp, ...]:
    """Every Application and Kustomization the cluster serves and this identity may list."""
    found: list[GitOpsApp] = []
    for group, kind, versions, read in DEPLOYERS:
        resource = served(discovery, group, kind, versions)
        if resource is None:
            continue  # not installed: nothing to judge
        try:
            items = [item for page in connection.pages(resource) for item in page.items]
        except kube.KubeError as error:
            live.failures.append(
                f"{kind} ({resource.api_version}) could not be read, so sync.verdict "
                f"cannot judge it: {error}"
            )
            continue
        found += [read(item) for item in items]
        live.read.add((group, kind))
    return tuple(found)


def served(
    discovery: kube.Discovery, group: str, kind: str, versions: tuple[str, ...]
) -> kube.Resource | None:
    """The kind in the server's preferred version if this module reads it, else the newest
    one served that it reads."""
    preferred = discovery.preferred.get((group, kind))
    if preferred is not None and preferred.version in versions:
        return preferred
    for version in versions:
        resource = discovery.find(f"{group}/{version}", kind)
        if resource is not None:
            return resource
    return None
