"""How a lane's admission webhook treats changes (its `admission` terms): set on the lane
form, validated by path in documents, the model and the API, and exported back."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from rest_framework.test import APIClient

from drift import declarative
from drift.models import Lane
from tests.factories import LaneFactory

pytestmark = pytest.mark.django_db
ADMISSION = {"mode": "deny", "breakGlassGroups": ["sre-oncall", "platform-leads"]}


def lane(admission: Any) -> dict[str, Any]:
    return {
        "apiVersion": declarative.API_VERSION,
        "kind": "Lane",
        "metadata": {"name": "controlled"},
        "spec": {"namespaces": ["shop"], "admission": admission},
    }


def test_an_admin_sets_the_mode_and_break_glass_groups_in_the_form(client, admin_user):
    client.force_login(admin_user)
    LaneFactory(name="controlled", namespaces=["shop"], admission={"mode": "warn"})

    saved = client.post(
        reverse("lane-edit", args=["controlled"]),
        {
            "namespaces": "shop",
            "admission_mode": "deny",
            "break_glass_groups": "sre-oncall\n platform-leads \n",
        },
    )

    assert saved.status_code == 302
    assert Lane.objects.get(name="controlled").admission == ADMISSION
    page = client.get(reverse("lane-edit", args=["controlled"])).content.decode()
    assert "<legend>Admission (prevention)</legend>" in page
    assert '<option value="deny" selected>' in page
    assert "sre-oncall\nplatform-leads</textarea>" in page
    assert "drift admission install" in page and "not built" not in page
    assert 'href="/admission/?lane=controlled">Admission</a> page' in page


def test_emptying_the_groups_keeps_the_mode_and_drops_the_groups(client, admin_user):
    client.force_login(admin_user)
    LaneFactory(name="controlled", namespaces=["shop"], admission=ADMISSION)

    client.post(
        reverse("lane-edit", args=["controlled"]),
        {"namespaces": "shop", "admission_mode": "warn", "break_glass_groups": ""},
    )

    assert Lane.objects.get(name="controlled").admission == {"mode": "warn"}


def test_a_group_given_twice_comes_back_next_to_its_field(client, admin_user):
    client.force_login(admin_user)

    refused = client.post(
        reverse("lane-new"),
        {"name": "controlled", "admission_mode": "deny", "break_glass_groups": "sre\nsre"},
    )

    assert refused.status_code == 400
    assert refused.context["form"].errors["break_glass_groups"] == ["sre is listed twice"]
    assert not Lane.objects.filter(name="controlled").exists()


def test_a_lane_document_sets_admission_and_exports_it_back() -> None:
    declarative.apply([lane(ADMISSION)], "alice")

    stored = Lane.objects.get(name="controlled")
    assert stored.admission == ADMISSION
    exported = declarative.export.lane(stored)
    assert exported["spec"]["admission"] == ADMISSION
    assert [a.action for a in declarative.apply([exported], "alice")] == ["unchanged"]
    declarative.apply([lane({})], "alice")
    assert "admission" not in declarative.export.lane(Lane.objects.get(name="controlled"))["spec"]


def test_every_bad_term_is_named_by_its_path() -> None:
    with pytest.raises(declarative.InvalidDocuments) as refused:
        declarative.plan([lane({"mode": "block", "breakGlassGroups": ["sre", ""]})])

    assert [str(p) for p in refused.value.problems] == [
        "documents[0].spec.admission.mode: must be one of off, warn, deny",
        "documents[0].spec.admission.breakGlassGroups[1]: must be a group name (a non-empty "
        "string)",
    ]


def test_the_model_refuses_what_the_document_refuses() -> None:
    stored = LaneFactory(name="controlled", admission={"mode": "warn"})
    stored.full_clean()

    stored.admission = {"mode": "warn", "breakGlass": ["sre"]}
    with pytest.raises(ValidationError) as refused:
        stored.full_clean()

    assert refused.value.message_dict["admission"] == [
        "admission.breakGlass: unknown key; expected one of mode, breakGlassGroups"
    ]


def test_the_api_takes_and_shows_a_lanes_admission(admin_user) -> None:
    client = APIClient()
    client.force_login(admin_user)
    document = {"metadata": {"name": "controlled"}, "spec": {"admission": ADMISSION}}

    created = client.post("/api/v1/lanes/", document, format="json")
    refused = client.patch(
        "/api/v1/lanes/controlled/", {"spec": {"admission": {"mode": "on"}}}, format="json"
    )

    assert created.status_code == 201, created.json()
    assert created.json()["admission"] == ADMISSION
    assert created.json()["document"]["spec"]["admission"] == ADMISSION
    assert refused.status_code == 400
    assert [(e["field"], e["detail"]) for e in refused.json()["errors"]] == [
        ("spec.admission.mode", "must be one of off, warn, deny")
    ]
