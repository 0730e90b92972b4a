"""Subscription filters (cluster, lane, minimum severity) and the delivery log's request and
response, redacted, with a time filter."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from driftcontrol import webhooks
from driftcontrol.models import WebhookDelivery, WebhookSubscription
from driftcontrol.outbox import publish
from tests.factories import ClusterFactory, LaneFactory

pytestmark = pytest.mark.django_db
SECRET = "receiver-shared-secret-0123456789"


def finding(cluster: str, severity: str) -> dict[str, Any]:
    return {"finding": {"id": 1, "cluster": cluster, "severity": severity}, "links": {}}


def deliveries_of(name: str) -> list[tuple[str, str]]:
    found = WebhookDelivery.objects.filter(subscription__name=name).select_related("event")
    return sorted((d.event_type, d.event.payload.get("finding", {}).get("cluster")) for d in found)


def test_filters_narrow_what_a_subscription_hears_at_dispatch(private_targets, receiver):
    controlled = LaneFactory(name="controlled")
    ClusterFactory(name="prod-eu").lanes.add(controlled)
    ClusterFactory(name="dev")
    subscribe = webhooks.subscribe
    subscribe("cli:test", "eu", receiver.url, ["*"], SECRET, clusters=["prod-eu"])
    subscribe("cli:test", "lane", receiver.url, ["*"], SECRET, lanes=["controlled"])
    subscribe("cli:test", "serious", receiver.url, ["*"], SECRET, min_severity="high")
    subscribe("cli:test", "all", receiver.url, ["*"], SECRET)
    publish("finding.opened", finding("prod-eu", "medium"))
    publish("finding.opened", finding("dev", "critical"))
    publish("scan.failed", {"scan": 1, "policy": "shop", "cluster": "dev", "error": "x"})

    webhooks.dispatch_pending()

    assert deliveries_of("eu") == [("finding.opened", "prod-eu")]
    assert deliveries_of("lane") == [("finding.opened", "prod-eu")]
    # A failed scan has no severity: a severity floor does not filter it out.
    assert deliveries_of("serious") == [("finding.opened", "dev"), ("scan.failed", None)]
    assert len(deliveries_of("all")) == 3


def test_a_filter_follows_the_lanes_a_cluster_is_in_at_dispatch(private_targets, receiver):
    cluster = ClusterFactory(name="prod-us")
    webhooks.subscribe("cli:test", "lane", receiver.url, ["*"], SECRET, lanes=["controlled"])
    publish("finding.opened", finding("prod-us", "high"))
    cluster.lanes.add(LaneFactory(name="controlled"))  # moved into the lane before dispatch

    webhooks.dispatch_pending()

    assert deliveries_of("lane") == [("finding.opened", "prod-us")]


def test_a_ping_passes_every_filter(private_targets, receiver, tasks):
    narrow, _ = webhooks.subscribe(
        "cli:test", "narrow", receiver.url, ["scan.failed"], SECRET, clusters=["x"], lanes=["y"]
    )

    delivery = webhooks.ping("cli:test", narrow.pk)

    assert delivery.subscription_id == narrow.pk


def test_filter_names_are_checked_for_form_not_existence(client_for, admin_user, private_targets):
    client = client_for(admin_user)
    given = {"name": "eu", "url": "http://127.0.0.1:9/x", "event_types": ["*"]}

    bad = client.post(
        "/api/v1/webhooks/",
        {**given, "clusters": ["Prod_EU"], "min_severity": "urgent"},
        format="json",
    )
    later = client.post(
        "/api/v1/webhooks/",
        {**given, "clusters": ["not-registered-yet"], "lanes": ["fast"], "min_severity": "high"},
        format="json",
    )

    assert bad.status_code == 400
    fields = {e["field"] for e in bad.json()["errors"]}
    assert fields == {"clusters[0]", "min_severity"}
    assert later.status_code == 201, later.json()
    body = later.json()
    assert (body["clusters"], body["lanes"], body["min_severity"]) == (
        ["not-registered-yet"],
        ["fast"],
        "high",
    )
    assert body["payload_version"] == 2


def test_the_service_refuses_bad_filters_for_every_door():
    with pytest.raises(webhooks.InvalidSubscription) as refused:
        webhooks.subscribe(
            "cli:test",
            "x",
            "https://93.184.216.34/",
            ["*"],
            lanes=["UPPER"],
            payload_version=3,
        )

    assert set(refused.value.field_errors) == {"lanes", "payload_version"}


def test_the_command_line_sets_and_shows_filters(private_targets, receiver):
    out = StringIO()
    call_command(
        "drift",
        *("webhook", "add", "eu", "--url", receiver.url, "--events", "*"),
        *("--clusters", "prod-eu,prod-us", "--min-severity", "high", "--payload-version", "1"),
        stdout=out,
    )
    call_command("drift", "webhook", "update", "eu", "--lanes", "controlled", stdout=out)
    call_command("drift", "webhook", "list", stdout=out)

    subscription = WebhookSubscription.objects.get()
    assert subscription.clusters == ["prod-eu", "prod-us"]
    assert (subscription.lanes, subscription.min_severity) == (["controlled"], "high")
    assert subscription.payload_version == 1
    assert "severity>=high" in out.getvalue()


def test_the_browser_form_sets_filters(client, admin_user, private_targets):
    client.force_login(admin_user)

    client.post(
        reverse("webhooks"),
        {
            "name": "eu",
            "url": "http://127.0.0.1:9/hook",
            "event_types": ["*"],
            "active": "on",
            "clusters": "prod-eu, prod-us",
            "lanes": "",
            "min_severity": "medium",
            "payload_version": "2",
        },
    )

    subscription = WebhookSubscription.objects.get()
    assert (subscription.clusters, subscription.min_severity) == (["prod-eu", "prod-us"], "medium")
    page = client.get(reverse("webhooks"))
    assert b"medium and above" in page.content


@pytest.fixture
def talkative() -> Iterator[str]:
    """A receiver that answers with a cookie, a token and a body longer than the log keeps."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Set-Cookie", "session=abc123; HttpOnly")
            self.send_header("X-Auth-Token", "receiver-token-xyz")
            self.send_header("X-Request-Id", "req-42")
            self.end_headers()
            self.wfile.write(b"a" * 20000)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()
    server.server_close()


def test_the_log_keeps_the_request_and_response_with_credentials_redacted(
    talkative, private_targets, tasks, client_for, admin_user, client
):
    subscription, _ = webhooks.subscribe("cli:test", "chatty", talkative, ["*"], SECRET)
    publish("scan.failed", {"scan": 1, "policy": "shop", "cluster": "dev", "error": "x"})
    webhooks.dispatch_pending()
    delivery = WebhookDelivery.objects.get()
    webhooks.deliver(delivery.pk)

    detail = client_for(admin_user).get(f"/api/v1/webhook-deliveries/{delivery.pk}/").json()
    listed = client_for(admin_user).get("/api/v1/webhook-deliveries/").json()["results"][0]

    sent = detail["request_headers"]
    assert sent["X-DriftControl-Signature"] == "[redacted]"
    assert (sent["X-DriftControl-Event"], sent["X-DriftControl-Payload-Version"]) == (
        "scan.failed",
        "2",
    )
    assert '"payload_version":2' in detail["request_body"] and SECRET not in str(detail)
    answered = detail["response_headers"]
    assert answered["Set-Cookie"] == answered["X-Auth-Token"] == "[redacted]"
    assert answered["X-Request-Id"] == "req-42"
    assert "abc123" not in str(detail) and "receiver-token-xyz" not in str(detail)
    assert len(detail["response_body"]) == 16 * 1024 and detail["response_truncated"] is True
    assert "request_body" not in listed and listed["id"] == str(delivery.pk)
    client.force_login(admin_user)
    page = client.get(reverse("webhook-delivery", args=[subscription.pk, delivery.pk]))
    assert b"req-42" in page.content and b"abc123" not in page.content
    assert b"Cut at 16 KiB" in page.content


def test_the_log_is_filtered_by_time_and_bad_times_are_named(
    client_for, admin_user, private_targets, receiver
):
    webhooks.subscribe("cli:test", "t", receiver.url, ["*"], SECRET)
    for _ in range(3):
        publish("scan.failed", {"scan": 1, "policy": "p", "cluster": "c", "error": "x"})
    webhooks.dispatch_pending()
    now = timezone.now()
    old, middle, new = WebhookDelivery.objects.order_by("event__created_at")
    for delivery, age in ((old, 3), (middle, 2), (new, 1)):
        WebhookDelivery.objects.filter(pk=delivery.pk).update(created_at=now - timedelta(days=age))
    client = client_for(admin_user)

    window = client.get(
        "/api/v1/webhook-deliveries/",
        {
            "since": (now - timedelta(days=2, hours=1)).isoformat(),
            "until": (now - timedelta(days=1, hours=1)).isoformat(),
        },
    )
    bad = client.get("/api/v1/webhook-deliveries/", {"since": "yesterday"})

    assert [d["id"] for d in window.json()["results"]] == [str(middle.pk)]
    assert bad.status_code == 400
    assert [e["field"] for e in bad.json()["errors"]] == ["since"]


def test_the_delivery_list_costs_the_same_queries_for_one_or_many(
    client_for, admin_user, private_targets, receiver
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    webhooks.subscribe("cli:test", "t", receiver.url, ["*"], SECRET)
    client = client_for(admin_user)
    client.get("/api/v1/webhook-deliveries/")  # the token's first use is recorded once

    def queries_for(events: int) -> int:
        for _ in range(events):
            publish("scan.failed", {"scan": 1, "policy": "p", "cluster": "c", "error": "x"})
        webhooks.dispatch_pending()
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/api/v1/webhook-deliveries/").status_code == 200
        return len(captured)

    assert queries_for(1) == queries_for(4)
