"""An alignment finding in the dashboard and the API: its rule, message, evidence and
runbook instead of a diff; the API filters by rule."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db

EVIDENCE = [
    {
        "group": "apps",
        "kind": "Deployment",
        "namespace": "shop",
        "name": "web",
        "path": "/spec/template/spec/containers/0/envFrom/0/configMapRef/name",
        "note": "names it",
    },
    {
        "group": "",
        "kind": "ConfigMap",
        "namespace": "shop",
        "name": "flags",
        "path": "",
        "note": "missing",
    },
]
MESSAGE = "Deployment.apps shop/web names ConfigMap flags, which does not exist in namespace shop"


@pytest.fixture
def broken(make_finding: Any) -> Any:
    return make_finding(
        name="web",
        type="alignment",
        rule="refs.configmap",
        diff={"paths": [EVIDENCE[0]["path"]], "message": MESSAGE, "evidence": EVIDENCE},
    )


def test_the_page_shows_rule_message_evidence_and_runbook(
    client: Any, viewer: Any, broken: Any
) -> None:
    client.force_login(viewer)

    page = client.get(reverse("finding", args=[broken.pk])).content.decode()

    assert "Rule broken: Pods name ConfigMaps that exist" in page
    assert MESSAGE in page
    assert f"<code>{EVIDENCE[0]['path']}</code>" in page
    assert "ConfigMap shop/flags" in page and "missing" in page
    assert "optional: true" in page  # the runbook
    assert "Git and the cluster, side by side" not in page


def test_the_api_filters_by_rule(client: Any, viewer: Any, broken: Any, make_finding: Any) -> None:
    make_finding(name="api")  # drift, no rule
    client.force_login(viewer)

    listed = client.get("/api/v1/findings/", {"rule": "refs.configmap"}).json()["results"]

    assert [(f["id"], f["type"], f["rule"]) for f in listed] == [
        (broken.pk, "alignment", "refs.configmap")
    ]


def test_the_score_counts_alignment_and_says_which_points_are_whose(
    client: Any, viewer: Any, broken: Any, make_finding: Any
) -> None:
    make_finding(name="api", severity="critical")  # drift: 10 points; the alignment one 5
    client.force_login(viewer)

    page = client.get(reverse("home")).content.decode()

    assert "Of 15 penalty points: 10 from drift, 5 from" in page
    assert "refs.configmap" in page  # the rule, next to the object it costs points for


def test_the_alignment_page_lists_every_rule_failing_ones_first(
    client: Any, viewer: Any, broken: Any, east: Any
) -> None:
    from drift.models import Lane

    shop_lane = Lane.objects.create(name="controlled", namespaces=["shop"])
    east.lanes.add(shop_lane)
    client.force_login(viewer)

    page = client.get(reverse("alignment")).content.decode()
    other_lane = client.get(reverse("alignment"), {"lane": "fast"}).content.decode()

    assert "1 of " in page and " rules failing" in page
    first_row = page.index("<tbody>")
    assert page.index("Pods name ConfigMaps that exist", first_row) < page.index(
        "Services select workloads", first_row
    )
    assert "?type=alignment&amp;rule=refs.configmap" in page
    assert f"{east.name} (1)" in page and "lanes: controlled (1)" in page
    assert "0 of " in other_lane


def test_a_suppressed_violation_does_not_fail_its_rule(
    client: Any, viewer: Any, broken: Any
) -> None:
    broken.status = "suppressed"
    broken.save()
    client.force_login(viewer)

    page = client.get(reverse("alignment")).content.decode()

    assert "0 of " in page
