"""Resolving after review: the one way a finding about a change let through by
break-glass ends (no scan can see such a change gone); refused for any other finding."""

from __future__ import annotations

import pytest

from drift.models import Finding
from drift.services.ledger import ADMITTED
from driftcontrol.models import AuditEvent
from tests.factories import FindingFactory

pytestmark = pytest.mark.django_db


def break_glass() -> Finding:
    return FindingFactory(
        type="alignment",
        rule="lane.break-glass",
        diff={"state": ADMITTED, "message": "tester-2 changed Deployment shop/web"},
    )


def test_an_operator_resolves_a_break_glass_finding_with_a_comment(client_for, operator):
    finding = break_glass()

    response = client_for(operator).post(
        f"/api/v1/findings/{finding.pk}/resolve/", {"comment": "reverted"}, format="json"
    )

    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "resolved"
    finding.refresh_from_db()
    assert (finding.status, finding.status_reason) == ("resolved", "reverted")
    event = AuditEvent.objects.get(action="finding.resolved")
    assert event.data == {"comment": "reverted"} and event.object_id == str(finding.pk)


def test_a_drift_finding_is_not_resolved_by_hand(client_for, operator):
    finding = FindingFactory()

    response = client_for(operator).post(
        f"/api/v1/findings/{finding.pk}/resolve/", {}, format="json"
    )

    assert response.status_code == 409
    assert "once a scan no longer finds it" in str(response.json())
    assert Finding.objects.get(pk=finding.pk).status == "open"


def test_a_viewer_may_not_resolve(client_for, viewer):
    finding = break_glass()

    response = client_for(viewer).post(f"/api/v1/findings/{finding.pk}/resolve/", {}, format="json")

    assert response.status_code == 403
    assert Finding.objects.get(pk=finding.pk).status == "open"


def test_the_finding_page_offers_resolve_only_for_break_glass(client, operator):
    admitted, drifted = break_glass(), FindingFactory()
    client.force_login(operator)

    assert 'value="resolve"' in client.get(f"/findings/{admitted.pk}/").content.decode()
    assert 'value="resolve"' not in client.get(f"/findings/{drifted.pk}/").content.decode()

    done = client.post(
        "/findings/actions",
        {"action": "resolve", "finding": admitted.pk, "comment": "in Git now"},
    )
    assert done.status_code == 302
    assert Finding.objects.get(pk=admitted.pk).status == "resolved"
