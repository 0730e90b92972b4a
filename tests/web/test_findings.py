"""The findings list: filters, sorting, bounded pagination, and the bulk actions."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from drift.models import Finding, FindingStatus
from driftcontrol.models import AuditEvent
from remediation.models import RemediationRequest

pytestmark = pytest.mark.django_db


def names(response: Any) -> list[str]:
    return [f.name for f in response.context["page"].rows]


@pytest.fixture
def fleet(make_finding: Any, west: Any) -> dict[str, Finding]:
    now = timezone.now()
    return {
        "web": make_finding(name="web", severity="high", sighted_at=now),
        "api": make_finding(
            name="api", severity="critical", kind="ConfigMap", sighted_at=now - timedelta(hours=1)
        ),
        "cart": make_finding(
            name="cart", severity="low", cluster=west, namespace="cart", sighted_at=now
        ),
        "old": make_finding(name="old", severity="medium", status="resolved", resolved_at=now),
        "gone": make_finding(name="gone", severity="info", type="missing"),
    }


def test_the_list_opens_on_the_working_set_worst_first(
    client: Any, viewer: Any, fleet: dict
) -> None:
    client.force_login(viewer)

    response = client.get(reverse("findings"))

    assert response.status_code == 200
    assert set(names(response)) == {"web", "api", "cart", "gone"}
    assert names(response)[0] == "api"  # critical, though seen an hour ago
    assert names(response)[-1] == "gone"  # info: the mildest last, whatever its age
    assert b"1\xe2\x80\x934 of 4" in response.content


@pytest.mark.parametrize(
    "query, expected",
    [
        ("cluster=west", {"cart"}),
        ("lane=fast", {"web", "api", "gone"}),
        ("severity=critical&severity=high", {"web", "api"}),
        ("type=missing", {"gone"}),
        ("status=resolved", {"old"}),
        ("status=resolved&status=open-any", {"web", "api", "cart", "old", "gone"}),
        ("namespace=cart", {"cart"}),
        ("kind=ConfigMap", {"api"}),
        ("q=car", {"cart"}),
        ("policy=shop&severity=info", {"gone"}),
    ],
)
def test_filters_narrow_the_list(
    client: Any, viewer: Any, fleet: dict, query: str, expected: set[str]
) -> None:
    client.force_login(viewer)

    response = client.get(f"{reverse('findings')}?{query}")

    assert set(names(response)) == expected


def test_sorting_by_severity_puts_the_worst_first_and_can_reverse(
    client: Any, viewer: Any, fleet: dict
) -> None:
    client.force_login(viewer)

    worst = client.get(f"{reverse('findings')}?ordering=-severity")
    mildest = client.get(f"{reverse('findings')}?ordering=severity")

    assert names(worst) == ["api", "web", "cart", "gone"]
    assert names(mildest) == ["gone", "cart", "web", "api"]
    # The header link now offers the other direction, and says how the column is sorted.
    assert b'aria-sort="descending"><a href="?ordering=severity"' in worst.content


def test_pages_hold_fifty_findings_and_link_to_the_next(
    client: Any, viewer: Any, make_finding: Any
) -> None:
    for number in range(55):
        make_finding(name=f"web-{number:02d}")
    client.force_login(viewer)

    first = client.get(reverse("findings"))
    second = client.get(f"{reverse('findings')}?page=2")

    assert len(first.context["page"].rows) == 50
    assert b'rel="next" href="?page=2"' in first.content
    assert len(second.context["page"].rows) == 5
    assert set(names(first)).isdisjoint(names(second))
    assert b"page 2 of 2" in second.content


def test_counting_stops_at_the_cap_and_says_so(
    client: Any, viewer: Any, make_finding: Any, monkeypatch: Any
) -> None:
    monkeypatch.setattr("dashboard.views.paging.CAP", 5)
    for number in range(8):
        make_finding(name=f"web-{number}")
    client.force_login(viewer)

    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("findings"))

    assert b"1\xe2\x80\x938 of 5+" in response.content
    counts = [q["sql"] for q in queries if "COUNT(" in q["sql"]]
    assert len(counts) == 1
    assert "LIMIT 6" in counts[0]


def test_htmx_gets_only_the_results_with_the_sort_field_updated(
    client: Any, viewer: Any, fleet: dict
) -> None:
    client.force_login(viewer)

    response = client.get(f"{reverse('findings')}?ordering=-last_seen", HTTP_HX_REQUEST="true")

    text = response.content.decode()
    assert "<html" not in text
    assert text.lstrip().startswith('<div id="results"')
    assert 'hx-swap-oob="true"' in text
    assert '<option value="-last_seen" selected>' in text


def test_operators_acknowledge_a_selection(client: Any, operator: Any, fleet: dict) -> None:
    client.force_login(operator)
    chosen = [fleet["web"].pk, fleet["api"].pk]

    response = client.post(
        reverse("finding-actions"),
        {"action": "acknowledge", "finding": chosen, "comment": "on it", "next": "/findings/?q=w"},
        follow=True,
    )

    assert response.redirect_chain[-1][0] == "/findings/?q=w"
    assert "Acknowledged 2 findings." in response.content.decode()
    for finding in Finding.objects.filter(pk__in=chosen):
        assert (finding.status, finding.acknowledged_by, finding.status_reason) == (
            FindingStatus.ACKNOWLEDGED,
            operator,
            "on it",
        )
    assert AuditEvent.objects.filter(action="finding.acknowledged").count() == 2


def test_findings_that_cannot_change_are_named(client: Any, operator: Any, fleet: dict) -> None:
    client.force_login(operator)

    response = client.post(
        reverse("finding-actions"),
        {"action": "acknowledge", "finding": [fleet["web"].pk, fleet["old"].pk]},
        follow=True,
    )

    text = response.content.decode()
    assert "Acknowledged 1 finding." in text
    assert f"Left unchanged: #{fleet['old'].pk} is resolved." in text


def test_suppression_lasts_through_the_chosen_day(client: Any, operator: Any, fleet: dict) -> None:
    client.force_login(operator)
    last_day = timezone.localdate() + timedelta(days=3)

    client.post(
        reverse("finding-actions"),
        {
            "action": "suppress",
            "finding": [fleet["cart"].pk],
            "reason": "migration in progress",
            "until": last_day.isoformat(),
        },
    )

    cart = Finding.objects.get(pk=fleet["cart"].pk)
    assert cart.status == FindingStatus.SUPPRESSED
    assert cart.status_reason == "migration in progress"
    assert timezone.localtime(cart.suppressed_until).date() == last_day + timedelta(days=1)
    assert timezone.localtime(cart.suppressed_until).hour == 0


@pytest.mark.parametrize(
    "data, said",
    [
        ({"reason": "", "until": "2099-01-01"}, "say why the drift is accepted for now"),
        ({"reason": "accepted", "until": ""}, "choose the last day of the suppression"),
        ({"reason": "accepted", "until": "2000-01-01"}, "a suppression must end in the future"),
    ],
)
def test_a_suppression_needs_a_reason_and_a_future_end(
    client: Any, operator: Any, fleet: dict, data: dict, said: str
) -> None:
    client.force_login(operator)

    response = client.post(
        reverse("finding-actions"),
        {"action": "suppress", "finding": [fleet["cart"].pk], **data},
        follow=True,
    )

    assert said in response.content.decode()
    assert Finding.objects.get(pk=fleet["cart"].pk).status == FindingStatus.OPEN


def test_reopen_withdraws_an_acknowledgement(client: Any, operator: Any, fleet: dict) -> None:
    Finding.objects.filter(pk=fleet["web"].pk).update(status=FindingStatus.ACKNOWLEDGED)
    client.force_login(operator)

    client.post(reverse("finding-actions"), {"action": "reopen", "finding": [fleet["web"].pk]})

    assert Finding.objects.get(pk=fleet["web"].pk).status == FindingStatus.OPEN


def test_an_empty_selection_is_explained(client: Any, operator: Any, fleet: dict) -> None:
    client.force_login(operator)

    response = client.post(reverse("finding-actions"), {"action": "acknowledge"}, follow=True)

    assert "select at least one finding" in response.content.decode()


def test_a_remediation_of_a_mixed_selection_says_what_is_mixed(
    client: Any, operator: Any, fleet: dict
) -> None:
    client.force_login(operator)

    response = client.post(
        reverse("finding-actions"),
        {
            "action": "remediate",
            "strategy": "sync",
            "finding": [fleet["web"].pk, fleet["cart"].pk],
        },
        follow=True,
    )

    text = response.content.decode()
    assert "The selection mixes clusters east, west." in text
    assert "covers the findings of one cluster and one policy" in text
    assert not RemediationRequest.objects.exists()


def test_a_remediation_of_one_cluster_is_requested_and_shown(
    client: Any, operator: Any, fleet: dict
) -> None:
    # An alert needs no plan against a cluster and no approval: it is approved at once.
    client.force_login(operator)

    response = client.post(
        reverse("finding-actions"),
        {
            "action": "remediate",
            "strategy": "alert",
            "request_reason": "tell the owners",
            "finding": [fleet["web"].pk, fleet["api"].pk],
        },
        follow=True,
    )

    made = RemediationRequest.objects.get()
    assert response.redirect_chain[-1][0] == reverse("remediation", args=[made.pk])
    assert (made.strategy, made.reason, made.requested_by) == ("alert", "tell the owners", operator)
    assert set(made.findings.values_list("name", flat=True)) == {"web", "api"}
    assert f"Remediation request #{made.pk} needs no approval" in response.content.decode()


def test_a_refused_remediation_becomes_a_message(client: Any, operator: Any, fleet: dict) -> None:
    client.force_login(operator)

    response = client.post(
        reverse("finding-actions"),
        {"action": "remediate", "strategy": "alert", "finding": [fleet["old"].pk]},
        follow=True,
    )

    assert response.status_code == 200
    assert f"finding(s) {fleet['old'].pk} are resolved" in response.content.decode()


def test_actions_never_redirect_off_site(client: Any, operator: Any, fleet: dict) -> None:
    client.force_login(operator)

    response = client.post(
        reverse("finding-actions"),
        {"action": "reopen", "finding": [fleet["web"].pk], "next": "https://evil.example/"},
    )

    assert response.url == reverse("findings")


def test_a_finding_being_remediated_says_so_in_the_list(
    client: Any, viewer: Any, operator: Any, fleet: dict, make_request: Any
) -> None:
    waiting = make_request([fleet["web"]], operator)  # pending approval
    make_request([fleet["cart"]], operator, status="rejected")  # over: not shown
    client.force_login(viewer)

    with CaptureQueriesContext(connection) as queries:
        text = client.get(reverse("findings")).content.decode()

    assert f'href="/remediations/{waiting.pk}/">remediation #{waiting.pk} under way</a>' in text
    assert text.count("under way</a>") == 1
    # The page-size-bounded count does not run the per-row lookup.
    count = next(q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"])
    assert "remediation_remediationrequest" not in count


def test_the_list_opens_on_open_drift_and_suppressed_findings_are_one_tick_away(
    client: Any, viewer: Any, fleet: dict, make_finding: Any
) -> None:
    make_finding(
        name="accepted", status="suppressed", suppressed_until=timezone.now() + timedelta(days=7)
    )
    client.force_login(viewer)

    default = client.get(reverse("findings"))
    suppressed = client.get(reverse("findings"), {"status": "suppressed"})

    assert "accepted" not in names(default)
    assert names(suppressed) == ["accepted"]
    assert '<input type="checkbox" name="status" value="open" checked' in default.content.decode()


def test_a_history_restore_gets_the_whole_page(client: Any, viewer: Any, fleet: dict) -> None:
    client.force_login(viewer)

    restore = {"HTTP_HX_REQUEST": "true", "HTTP_HX_HISTORY_RESTORE_REQUEST": "true"}
    restored = client.get(f"{reverse('findings')}?q=cart", **restore).content.decode()

    assert "<html" in restored
    assert 'name="q" value="cart"' in restored
    # Both bodies of the one URL say they vary by it, so no cache mixes them up.
    assert "HX-Request" in client.get(reverse("findings"))["Vary"]


def test_through_htmx_a_refusal_is_said_next_to_the_buttons_and_nothing_else_changes(
    client: Any, operator: Any, fleet: dict
) -> None:
    client.force_login(operator)

    response = client.post(
        reverse("finding-actions"),
        {"action": "suppress", "finding": [fleet["cart"].pk], "reason": "", "until": "2099-01-01"},
        headers={"HX-Request": "true"},
    )

    # Only the feedback slot is replaced: the ticked rows and the typed values stay.
    assert response.status_code == 200
    assert (response["HX-Retarget"], response["HX-Reswap"]) == ("#bulk-feedback", "innerHTML")
    assert "say why the drift is accepted for now" in response.content.decode()
    assert "<table" not in response.content.decode()
    assert Finding.objects.get(pk=fleet["cart"].pk).status == FindingStatus.OPEN


def test_through_htmx_a_done_action_reloads_the_results_as_filtered_with_its_outcome(
    client: Any, operator: Any, fleet: dict
) -> None:
    client.force_login(operator)
    listed = "/findings/?q=cart&ordering=name"

    response = client.post(
        reverse("finding-actions"),
        {"action": "acknowledge", "finding": [fleet["cart"].pk], "next": listed},
        headers={"HX-Request": "true"},
    )
    location = json.loads(response["HX-Location"])
    results = client.get(location["path"], headers={"HX-Request": "true"})

    assert (location["path"], location["target"]) == (listed, "#results")
    text = results.content.decode()
    assert text.lstrip().startswith('<div id="results"')
    assert "Acknowledged 1 finding." in text


def test_through_htmx_a_new_request_opens_its_page(
    client: Any, requester: Any, fleet: dict
) -> None:
    client.force_login(requester)

    response = client.post(
        reverse("finding-actions"),
        {"action": "remediate", "finding": [fleet["web"].pk], "strategy": "alert"},
        headers={"HX-Request": "true"},
    )

    made = RemediationRequest.objects.get()
    assert response["HX-Redirect"] == reverse("remediation", kwargs={"pk": made.pk})


def test_with_one_severity_chosen_the_list_orders_by_time_alone_and_keeps_its_order(
    client: Any, viewer: Any, make_finding: Any
) -> None:
    now = timezone.now()
    for hours in (3, 1, 2):
        make_finding(name=f"web-{hours}", severity="high", sighted_at=now - timedelta(hours=hours))
    make_finding(name="api", severity="critical", sighted_at=now)
    client.force_login(viewer)

    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("findings"), {"severity": "high"})

    # Every row has the same severity: ordering by it too would stop PostgreSQL from
    # walking the (status, severity, -last_seen) index (a sort of a million rows instead).
    [listed] = [q["sql"] for q in queries.captured_queries if '"drift_finding"."kind"' in q["sql"]]
    assert "severity_rank" not in listed.split("ORDER BY")[1]
    assert names(response) == ["web-1", "web-2", "web-3"]
