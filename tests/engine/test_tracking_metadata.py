"""What the deployers write on what they apply to know it again (DriftControl's revision
annotation, Argo CD's tracking annotation or instance label, Flux's labels) is in what
they applied and never in Git: it is not a field Git removed. Anything else they applied
and Git no longer declares still is."""

from __future__ import annotations

import copy

import pytest

from drift.engine.normalize import REVISION_ANNOTATION
from tests.engine.test_compare import CONTAINER, DEPLOYMENT, live_of, run

TRACKING = {
    "DriftControl": ({REVISION_ANNOTATION: "8f3a9c1d2e4b5a6978c0d1e2f3a4b5c6d7e8f901"}, {}),
    "Argo CD annotation": ({"argocd.argoproj.io/tracking-id": "shop:apps/Deployment:shop/web"}, {}),
    "Argo CD label": ({}, {"app.kubernetes.io/instance": "shop"}),
    "Flux": (
        {},
        {
            "kustomize.toolkit.fluxcd.io/name": "shop",
            "kustomize.toolkit.fluxcd.io/namespace": "flux-system",
        },
    ),
}


def applied_with(annotations: dict[str, str], labels: dict[str, str]) -> dict:  # type: ignore[type-arg]
    """The manifest as the deployer sends it: Git's, with its tracking metadata added."""
    sent = copy.deepcopy(DEPLOYMENT)
    sent["metadata"]["labels"] = {**sent["metadata"]["labels"], **labels}
    if annotations:
        sent["metadata"]["annotations"] = dict(annotations)
    return sent


@pytest.mark.parametrize("applied", ["client-side", "server-side"])
@pytest.mark.parametrize("deployer", sorted(TRACKING))
def test_a_deployers_tracking_metadata_is_not_drift(deployer: str, applied: str) -> None:
    live = live_of(applied_with(*TRACKING[deployer]), applied=applied)

    assert run(DEPLOYMENT, live) is None


@pytest.mark.parametrize("applied", ["client-side", "server-side"])
def test_a_label_git_no_longer_declares_is_still_drift_next_to_them(applied: str) -> None:
    annotations, labels = TRACKING["Flux"]
    live = live_of(applied_with(annotations, {**labels, "tier": "frontend"}), applied=applied)

    drift = run(DEPLOYMENT, live)

    assert drift is not None
    assert [(f.path, f.op) for f in drift.fields] == [("/metadata/labels/tier", "removed")]


def test_the_instance_label_on_a_pod_template_is_the_templates_own() -> None:
    sent = copy.deepcopy(DEPLOYMENT)
    sent["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/instance"] = "shop"
    live = live_of(sent, applied="server-side")

    drift = run(DEPLOYMENT, live)

    assert drift is not None
    assert [f.path for f in drift.fields] == [
        "/spec/template/metadata/labels/app.kubernetes.io~1instance"
    ]
    assert CONTAINER.startswith("/spec/template")
