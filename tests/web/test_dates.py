"""One date format on every page, in the reader's time zone: each page of a fleet shows its
moments as "2026-01-15 10:00 EST" (the format module's DATETIME_FORMAT) inside a <time>
element, days alone as "2026-01-15", and nothing else that looks like a date or a time.
The API and the CSV exports keep ISO 8601 with the offset, whoever asks."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

import pytest
from django.template import Context, Template
from django.urls import reverse
from django.utils import formats, timezone

from drift.models import Finding, Scan
from driftcontrol import tokens
from driftcontrol.models import OutboxEvent, Preferences, WebhookDelivery, WebhookSubscription
from tests.browser.fleet import Fleet, small_fleet
from tests.web.conftest import approve_as

pytestmark = pytest.mark.django_db

WINTER = datetime(2026, 1, 15, 15, 0, tzinfo=UTC)
SUMMER = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
# Anything that looks like a date, with whatever time and zone follow it.
DATE_LIKE = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"
    r"(?: ?(?:Z\b|[A-Z]{2,5}\b|[+-]\d{2}(?::?\d{2})?\b))?"
)
DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
# Times and month names left once the dates are taken out: another format ("Dec. 1",
# "13:05:09", "1:05 p.m.") slipped in.
STRAY = re.compile(
    r"\b\d{1,2}:\d{2}\b|\b(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\.? \d{1,2}\b"
    r"|\b[ap]\.m\."
)
# Verbatim machine text (headers, bodies, manifests) is shown as it is, not as a moment.
VERBATIM = {"script", "style", "code", "pre", "textarea"}


class Texts(HTMLParser):
    """The text a person reads (and the titles they hover), each with whether it sits in
    a <time> element."""

    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []
        self.found: list[tuple[str, bool]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        title = dict(attrs).get("title")
        if title:
            self.found.append((title, tag == "time" or "time" in self.open))
        if tag not in {"br", "img", "input", "link", "meta", "hr", "source", "wbr"}:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.open:
            while self.open.pop() != tag:
                pass

    def handle_data(self, data: str) -> None:
        if data.strip() and not VERBATIM & set(self.open):
            self.found.append((data, "time" in self.open))


def date_problems(html: str, zones: str) -> list[str]:
    """Every date or time on the page not in the one format (in one of `zones`) or not
    inside a <time> element."""
    one = re.compile(rf"\d{{4}}-\d{{2}}-\d{{2}} \d{{2}}:\d{{2}} (?:{zones})")
    parser = Texts()
    parser.feed(html)
    problems = []
    for text, in_time in parser.found:
        for match in DATE_LIKE.finditer(text):
            shown = match.group()
            if one.fullmatch(shown):
                if not in_time:
                    problems.append(f"not in a <time>: {shown!r} in {text.strip()[:80]!r}")
            elif not DAY.fullmatch(shown):
                problems.append(f"another format: {shown!r} in {text.strip()[:80]!r}")
        for stray in STRAY.finditer(DATE_LIKE.sub("", text)):
            problems.append(f"stray date or time: {stray.group()!r} in {text.strip()[:80]!r}")
    return problems


@pytest.fixture
def fleet(requester: Any, second_approver: Any, admin_user: Any) -> Fleet:
    """The browser tour's fleet, and a moment of every other kind the pages show: a
    decision, an acknowledged and a resolved finding, a token used once, a webhook
    delivery being retried after a secret rotation, audit events."""
    built = small_fleet(requester)
    now = timezone.now()
    approve_as(built.pending[0], second_approver)
    first = built.findings[0]
    Finding.objects.filter(pk=first.pk).update(first_seen=WINTER, sighted_at=SUMMER)
    Finding.objects.filter(pk=built.findings[1].pk).update(
        status="acknowledged", acknowledged_by=admin_user, acknowledged_at=now
    )
    Finding.objects.filter(pk=built.findings[2].pk).update(status="resolved", resolved_at=now)
    token, _ = tokens.create(admin_user, "jira-sync", "read", timedelta(days=30), actor=admin_user)
    token.last_used_at = now
    token.save(update_fields=["last_used_at"])
    hook = WebhookSubscription.objects.create(
        name="tickets",
        url="https://hooks.example/drift",
        secret="s3cret-s3cret-s3cret",
        previous_secret="old-s3cret-old-s3cret",
        previous_secret_expires_at=now + timedelta(hours=20),
        event_types=["*"],
    )
    event = OutboxEvent.objects.create(event_type="finding.opened", payload={"id": first.pk})
    WebhookDelivery.objects.create(
        subscription=hook,
        event=event,
        event_type=event.event_type,
        status="pending",
        attempts=2,
        last_attempt_at=now - timedelta(minutes=3),
        next_attempt_at=now + timedelta(minutes=5),
    )
    return built


def pages(fleet: Fleet) -> list[str]:
    """Every page of dashboard/urls.py a person opens, with one object of each kind."""
    scan = Scan.objects.filter(status="succeeded").earliest("pk")
    hook = WebhookSubscription.objects.get()
    delivery = WebhookDelivery.objects.get()
    findings = [f"/findings/{f.pk}/" for f in fleet.findings[:3]]
    return [
        "/",
        "/findings/",
        *findings,
        "/approvals/",
        "/remediations/",
        f"/remediations/{fleet.pending[0].pk}/",
        "/scans/",
        f"/scans/{scan.pk}/",
        f"/scans/{fleet.running.pk}/",
        "/clusters/",
        "/clusters/east/",
        "/lanes/",
        "/policies/",
        "/sources/",
        f"/policies/{fleet.policy.name}/",
        "/trends/",
        "/system/",
        "/tokens/",
        "/webhooks/",
        f"/webhooks/{hook.pk}/",
        f"/webhooks/{hook.pk}/deliveries/{delivery.pk}/",
        "/account/",
    ]


def crawl(client: Any, urls: list[str], zones: str) -> dict[str, list[str]]:
    found = {}
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        problems = date_problems(response.content.decode(), zones)
        # The audit log line of /system/ is written by the service, in the same format.
        if url == "/system/":
            problems = [p for p in problems if "events, last at" not in p]
        if problems:
            found[url] = problems
    return found


def test_the_format_module_takes_effect() -> None:
    moment = Template('{{ moment }}|{{ moment|date:"DATETIME_FORMAT" }}|{{ day }}')

    shown = moment.render(Context({"moment": WINTER, "day": WINTER.date()}))

    assert formats.get_format("DATETIME_FORMAT") == "Y-m-d H:i T"
    assert shown == "2026-01-15 15:00 UTC|2026-01-15 15:00 UTC|2026-01-15"


def test_every_page_shows_dates_in_one_format_with_the_zone(
    client: Any, admin_user: Any, fleet: Fleet
) -> None:
    client.force_login(admin_user)

    problems = crawl(client, pages(fleet), "UTC")

    assert problems == {}


def test_a_user_in_new_york_sees_eastern_times(client: Any, admin_user: Any, fleet: Fleet) -> None:
    Preferences.objects.create(user=admin_user, time_zone="America/New_York")
    client.force_login(admin_user)

    detail = client.get(reverse("finding", args=[fleet.findings[0].pk])).content.decode()
    problems = crawl(client, pages(fleet), "EST|EDT")

    assert "2026-01-15 10:00 EST" in detail  # 15:00 UTC in winter
    assert "2026-07-01 08:00 EDT" in detail  # 12:00 UTC in summer
    assert "15:00 UTC" not in detail
    assert problems == {}


def test_the_api_answers_in_utc_whatever_zone_the_user_chose(
    client: Any, admin_user: Any, fleet: Fleet
) -> None:
    Preferences.objects.create(user=admin_user, time_zone="Asia/Tokyo")
    client.force_login(admin_user)  # the API takes the session too
    _, raw = tokens.create(admin_user, "script", "read")
    url = f"/api/v1/findings/{fleet.findings[0].pk}/"

    by_session = client.get(url).json()
    by_token = client.get(url, HTTP_AUTHORIZATION=f"Bearer {raw}").json()

    assert by_session["first_seen"] == by_token["first_seen"] == "2026-01-15T15:00:00Z"
    assert by_session["last_seen"] == "2026-07-01T12:00:00Z"


def test_csv_exports_write_iso_8601_with_the_offset(
    client: Any, admin_user: Any, fleet: Fleet
) -> None:
    Preferences.objects.create(user=admin_user, time_zone="America/New_York")
    client.force_login(admin_user)

    response = client.get(reverse("findings-csv"))
    body = b"".join(response.streaming_content).decode()

    assert "2026-01-15T15:00:00+00:00" in body
    assert "EST" not in body


def test_the_crawl_tells_the_one_format_from_others() -> None:
    good = '<td><time datetime="2026-01-15T15:00:00+00:00">2026-01-15 15:00 UTC</time></td>'
    day = "<p>Daily rollups start on 2026-01-15: the charts show 3 days.</p>"
    others = [
        "<td>Jan. 15, 2026, 3 p.m.</td>",  # Django's own "en" DATETIME_FORMAT
        "<td>2026-01-15 15:00:09</td>",
        "<td>Jan 15, 15:00</td>",
        "<td>2026-01-15T15:00:00Z</td>",
        "<td>as of 15:00</td>",
        "<td>2026-01-15 15:00 UTC</td>",  # right format, but no <time>
        '<time datetime="2026-01-15">2026-01-15 10:00 EST</time>',  # another zone
    ]

    assert date_problems(good + day, "UTC") == []
    assert [html for html in others if not date_problems(html, "UTC")] == []
