"""A lane's `requires` is validated like every field, naming its path, and round-trips
through `drift apply` and `drift export`, the model's clean and the API."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError

from drift import declarative
from drift.models import Lane
from tests.factories import LaneFactory

pytestmark = pytest.mark.django_db
ACTOR = "alice"
REQUIRES = {
    "podSecurity": "restricted",
    "defaultDenyNetworkPolicy": True,
    "resourceQuota": True,
    "limitRange": True,
    "kyvernoPolicies": ["require-labels", "shop/disallow-latest-tag"],
    "gatekeeperConstraints": ["K8sRequiredLabels/ns-must-have-owner"],
    "noWildcardRoles": True,
    "noClusterAdmin": True,
}


def lane(requires: Any) -> dict[str, Any]:
    return {
        "apiVersion": declarative.API_VERSION,
        "kind": "Lane",
        "metadata": {"name": "controlled"},
        "spec": {"namespaces": ["shop"], "requires": requires},
    }


def problems_of(requires: Any) -> list[str]:
    with pytest.raises(declarative.InvalidDocuments) as refused:
        declarative.plan([lane(requires)])
    return [str(p) for p in refused.value.problems]


def test_a_lane_requires_guardrails_and_exports_them_back() -> None:
    declarative.apply([lane(REQUIRES)], ACTOR)

    stored = Lane.objects.get(name="controlled")
    assert stored.requires == REQUIRES
    exported = declarative.export.lane(stored)
    assert exported["spec"]["requires"] == REQUIRES
    assert [a.action for a in declarative.apply([exported], ACTOR)] == ["unchanged"]


def test_a_lane_without_requires_exports_none() -> None:
    declarative.apply([lane({})], ACTOR)

    assert "requires" not in declarative.export.lane(Lane.objects.get(name="controlled"))["spec"]


def test_every_bad_requirement_is_named_by_its_path() -> None:
    bad = {
        "podSecurity": "strict",
        "defaultDenyNetworkPolicy": "yes",
        "kyvernoPolicies": ["require-labels", "Require Labels", "a/b/c"],
        "gatekeeperConstraints": ["ns-must-have-owner", "K8sRequiredLabels/ns-must-have-owner"],
        "networkPolicy": True,
    }

    assert problems_of(bad) == [
        "documents[0].spec.requires.networkPolicy: unknown key; expected one of podSecurity, "
        "defaultDenyNetworkPolicy, resourceQuota, limitRange, noWildcardRoles, noClusterAdmin, "
        "kyvernoPolicies, gatekeeperConstraints",
        "documents[0].spec.requires.podSecurity: must be one of privileged, baseline, restricted",
        "documents[0].spec.requires.defaultDenyNetworkPolicy: must be true or false",
        "documents[0].spec.requires.kyvernoPolicies[1]: 'Require Labels': name a ClusterPolicy "
        "(require-labels) or a namespace's Policy (shop/require-labels)",
        "documents[0].spec.requires.kyvernoPolicies[2]: 'a/b/c': name a ClusterPolicy "
        "(require-labels) or a namespace's Policy (shop/require-labels)",
        "documents[0].spec.requires.gatekeeperConstraints[0]: 'ns-must-have-owner': name a "
        "constraint as Kind/name (K8sRequiredLabels/owner-label)",
    ]
    assert problems_of(["podSecurity"]) == ["documents[0].spec.requires: must be a mapping"]
    assert problems_of({"kyvernoPolicies": "require-labels"}) == [
        "documents[0].spec.requires.kyvernoPolicies: must be a list of strings"
    ]


def test_the_model_refuses_what_the_document_refuses() -> None:
    stored = LaneFactory(name="controlled", requires={"podSecurity": "restricted"})
    stored.full_clean()

    stored.requires = {"podSecurity": "strict", "noClusterAdmin": 1}
    with pytest.raises(ValidationError) as refused:
        stored.full_clean()

    assert refused.value.message_dict["requires"] == [
        "requires.podSecurity: must be one of privileged, baseline, restricted",
        "requires.noClusterAdmin: must be true or false",
    ]


def test_the_api_takes_and_shows_what_a_lane_requires(client_for, admin_user) -> None:
    client = client_for(admin_user)
    document = {"metadata": {"name": "controlled"}, "spec": {"requires": REQUIRES}}

    created = client.post("/api/v1/lanes/", document, format="json")
    refused = client.post(
        "/api/v1/lanes/",
        {"metadata": {"name": "fast"}, "spec": {"requires": {"podSecurity": "strict"}}},
        format="json",
    )

    assert created.status_code == 201, created.json()
    assert created.json()["requires"] == REQUIRES
    assert created.json()["document"]["spec"]["requires"] == REQUIRES
    assert refused.status_code == 400
    assert [(e["field"], e["detail"]) for e in refused.json()["errors"]] == [
        ("spec.requires.podSecurity", "must be one of privileged, baseline, restricted")
    ]
