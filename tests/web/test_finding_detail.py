"""One finding's page: the diff side by side, patch, attribution, episodes, requests, audit
trail, and its actions."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from drift.models import Finding, FindingStatus
from drift.services import triage
from tests.web.conftest import IMAGE

pytestmark = pytest.mark.django_db


def page(client: Any, finding: Finding) -> str:
    response = client.get(reverse("finding", args=[finding.pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_the_diff_shows_git_and_live_side_by_side_with_the_difference_marked(
    client: Any, viewer: Any, make_finding: Any
) -> None:
    finding = make_finding(name="web")
    client.force_login(viewer)

    text = page(client, finding)

    assert f'<span class="path">{IMAGE}</span>' in text
    assert "changed live" in text
    assert '<td class="del">&quot;registry.example/shop/web:1.4.2&quot;</td>' in text
    assert '<td class="add">&quot;evil.example/web:6.6.6&quot;</td>' in text
    assert "last written by <strong>kubectl-set</strong> (Update)" in text


def test_list_values_are_compared_line_by_line(client: Any, viewer: Any, make_finding: Any) -> None:
    subjects = "/subjects"
    finding = make_finding(
        kind="RoleBinding",
        diff={
            "paths": [subjects],
            "fields": [
                {
                    "path": subjects,
                    "op": "changed",
                    "desired": [{"kind": "ServiceAccount", "name": "deployer"}],
                    "live": [
                        {"kind": "ServiceAccount", "name": "deployer"},
                        {"kind": "User", "name": "mallory"},
                    ],
                    "severity": "critical",
                    "managers": [],
                }
            ],
            "patch": [],
        },
    )
    client.force_login(viewer)

    text = page(client, finding)

    assert '<td class="">- kind: ServiceAccount</td>' in text  # the same on both sides
    assert '<td class="add">- kind: User</td>' in text
    assert '<td class="add">  name: mallory</td>' in text
    assert '<td class="gap"></td>' in text
    assert "no field manager recorded this change" in text


def test_a_missing_object_shows_what_git_declares(
    client: Any, viewer: Any, make_finding: Any
) -> None:
    finding = make_finding(
        type="missing",
        kind="ConfigMap",
        diff={
            "paths": [],
            "fields": [],
            "desired": {"apiVersion": "v1", "kind": "ConfigMap", "data": {"currency": "EUR"}},
            "patch": [{"op": "add", "path": "", "value": {}}],
        },
    )
    client.force_login(viewer)

    text = page(client, finding)

    assert "in Git, missing from the cluster" in text
    assert "Cluster (live): not present" in text
    assert '<td class="del">  currency: EUR</td>' in text


def test_an_unmanaged_object_shows_what_runs(client: Any, viewer: Any, make_finding: Any) -> None:
    finding = make_finding(
        type="unmanaged",
        diff={"paths": [], "fields": [], "live": {"kind": "Service", "spec": {"port": 80}}},
    )
    client.force_login(viewer)

    text = page(client, finding)

    assert "live, not declared in Git" in text
    assert "Git (desired): not declared" in text
    assert '<td class="add">  port: 80</td>' in text


def test_the_patch_attribution_and_times_are_shown(
    client: Any, viewer: Any, make_finding: Any
) -> None:
    started = timezone.now() - timedelta(minutes=12)
    finding = make_finding(drift_started_at=started, first_seen=started + timedelta(minutes=2))
    client.force_login(viewer)

    text = page(client, finding)

    assert "Patch (RFC 6902, live to desired)" in text
    assert "&quot;op&quot;: &quot;replace&quot;" in text
    assert "<strong>kubectl-set</strong></td><td>Update</td>" in text
    assert "(detected after 2 min)" in text


def test_other_episodes_requests_and_the_audit_trail_are_listed(
    client: Any, operator: Any, make_finding: Any, make_request: Any
) -> None:
    earlier = make_finding(
        name="web",
        status=FindingStatus.RESOLVED,
        first_seen=timezone.now() - timedelta(days=3),
        resolved_at=timezone.now() - timedelta(days=2),
    )
    finding = make_finding(name="web", occurrences=2)
    request = make_request([finding], operator)
    triage.acknowledge([finding.pk], operator, "looking into it")
    client.force_login(operator)

    text = page(client, finding)

    assert earlier.fingerprint == finding.fingerprint
    assert f'href="/findings/{earlier.pk}/">#{earlier.pk}</a>' in text
    assert "<td>1 d</td>" in text
    assert f'href="/remediations/{request.pk}/">#{request.pk} sync from git</a>' in text
    assert (
        "acknowledged it" in text
        and "finding.acknowledged" not in text
        and "“looking into it”" in text
    )
    # The request covers it already: no second request is offered.
    assert f'Request <a href="/remediations/{request.pk}/">#{request.pk}</a>' in text
    assert 'value="remediate"' not in text


def test_actions_follow_the_status(client: Any, operator: Any, make_finding: Any) -> None:
    open_one = make_finding(name="a")
    acknowledged = make_finding(name="b", status=FindingStatus.ACKNOWLEDGED)
    resolved = make_finding(name="c", status=FindingStatus.RESOLVED)
    client.force_login(operator)

    opened, acked, closed = (page(client, f) for f in (open_one, acknowledged, resolved))

    assert 'value="acknowledge"' in opened and 'value="reopen"' not in opened
    assert 'value="remediate"' in opened
    assert 'value="acknowledge"' not in acked and 'value="reopen"' in acked
    assert 'value="suppress"' not in closed and 'value="remediate"' not in closed


def test_a_ticket_is_linked_and_unlinked(client: Any, operator: Any, make_finding: Any) -> None:
    finding = make_finding()
    client.force_login(operator)
    url = reverse("finding-ticket", args=[finding.pk])

    linked = client.post(
        url, {"ticket_id": "OPS-42", "url": "https://t.example/OPS-42"}, follow=True
    )
    finding.refresh_from_db()
    assert (finding.ticket_id, finding.ticket_url) == ("OPS-42", "https://t.example/OPS-42")
    assert "Linked to ticket OPS-42." in linked.content.decode()
    assert 'href="https://t.example/OPS-42"' in linked.content.decode()

    client.post(url, {"ticket_id": "OPS-42", "unlink": "on"})
    finding.refresh_from_db()
    assert finding.ticket_id == ""


def test_a_ticket_needs_an_id(client: Any, operator: Any, make_finding: Any) -> None:
    finding = make_finding()
    client.force_login(operator)

    response = client.post(
        reverse("finding-ticket", args=[finding.pk]), {"ticket_id": " "}, follow=True
    )

    assert "name the ticket" in response.content.decode()


def test_acknowledging_from_the_finding_page_returns_to_it(
    client: Any, operator: Any, make_finding: Any
) -> None:
    finding = make_finding()
    here = reverse("finding", args=[finding.pk])
    client.force_login(operator)

    response = client.post(
        reverse("finding-actions"),
        {"action": "acknowledge", "finding": [finding.pk], "next": here},
    )

    assert response.url == here
    assert Finding.objects.get(pk=finding.pk).status == FindingStatus.ACKNOWLEDGED
