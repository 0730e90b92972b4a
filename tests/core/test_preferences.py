"""A person's time zone: chosen through the service (checked, audited), then activated for
each of their requests by the middleware at no query once their session knows it."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from driftcontrol.exceptions import DomainError
from driftcontrol.models import AuditEvent, Preferences
from driftcontrol.services.preferences import choose_time_zone, time_zone_of
from driftcontrol.timezones import SESSION_KEY, zone_choices

pytestmark = pytest.mark.django_db


def zone_queries(client: Any, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return sum("driftcontrol_preferences" in q["sql"] for q in captured.captured_queries)


def test_it_stores_the_zone_and_audits_the_change(viewer: Any) -> None:
    assert choose_time_zone(viewer, "America/New_York") is True

    assert time_zone_of(viewer) == "America/New_York"
    event = AuditEvent.objects.get(action="preferences.time_zone_changed")
    assert (event.actor, event.data) == ("vera", {"from": "", "to": "America/New_York"})


def test_choosing_the_same_zone_again_changes_and_audits_nothing(viewer: Any) -> None:
    choose_time_zone(viewer, "Europe/Berlin")

    assert choose_time_zone(viewer, "Europe/Berlin") is False
    assert AuditEvent.objects.filter(action="preferences.time_zone_changed").count() == 1


def test_blank_goes_back_to_the_servers_zone(viewer: Any) -> None:
    choose_time_zone(viewer, "Europe/Berlin")

    choose_time_zone(viewer, "")

    assert time_zone_of(viewer) == ""
    assert AuditEvent.objects.filter(action="preferences.time_zone_changed").count() == 2


@pytest.mark.parametrize("name", ["Mars/Olympus_Mons", "america/new_york", "localtime", "+05:00"])
def test_an_unknown_zone_is_refused_and_nothing_is_stored(viewer: Any, name: str) -> None:
    with pytest.raises(DomainError, match="is not a time zone this server knows"):
        choose_time_zone(viewer, name)

    assert not Preferences.objects.exists()
    assert not AuditEvent.objects.filter(action="preferences.time_zone_changed").exists()


def test_the_model_checks_the_zone_too(viewer: Any) -> None:
    with pytest.raises(ValidationError, match="Mars/Olympus_Mons is not a time zone"):
        Preferences(user=viewer, time_zone="Mars/Olympus_Mons").full_clean()


def test_the_choices_group_canonical_zones_by_area_and_keep_an_alias_in_use() -> None:
    choices = dict(zone_choices("US/Eastern"))

    assert choices["UTC"] == "UTC"
    assert ("America/New_York", "America/New York") in choices["America"]
    assert choices["US/Eastern"] == "US/Eastern"
    assert "US/Central" not in str(choices)


def test_a_page_costs_one_zone_query_per_session_not_per_request(client: Any, viewer: Any) -> None:
    Preferences.objects.create(user=viewer, time_zone="Asia/Tokyo")
    client.force_login(viewer)

    assert zone_queries(client, reverse("system-status")) == 1
    assert client.session[SESSION_KEY] == [viewer.pk, "Asia/Tokyo"]
    assert zone_queries(client, reverse("system-status")) == 0
    assert zone_queries(client, reverse("tokens")) == 0


def test_a_session_never_lends_one_persons_zone_to_another(
    client: Any, viewer: Any, operator: Any
) -> None:
    client.force_login(operator)
    session = client.session
    session[SESSION_KEY] = [viewer.pk, "Asia/Tokyo"]  # left by someone else
    session.save()

    page = client.get(reverse("account"))

    assert page.context["zone"] == "UTC"
    assert client.session[SESSION_KEY] == [operator.pk, ""]


def test_a_zone_the_tz_database_no_longer_knows_falls_back_to_the_servers(
    client: Any, viewer: Any
) -> None:
    # Stored before a tz database update removed the name: the pages must still work.
    Preferences.objects.bulk_create([Preferences(user=viewer, time_zone="Gone/Away")])
    client.force_login(viewer)

    page = client.get(reverse("account"))

    assert page.status_code == 200
    assert page.context["zone"] == "UTC"
