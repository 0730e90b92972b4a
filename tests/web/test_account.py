"""The Account page: every signed-in person picks the time zone their pages use."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.urls import reverse

from driftcontrol.models import AuditEvent, Preferences

pytestmark = pytest.mark.django_db


def test_it_shows_the_servers_zone_as_the_default_and_the_time_now(
    client: Any, viewer: Any
) -> None:
    client.force_login(viewer)

    page = client.get(reverse("account")).content.decode()

    assert '<option value="" selected>The server&#x27;s zone (UTC)</option>' in page
    assert '<optgroup label="Europe">' in page
    assert re.search(
        r'<time datetime="[^"]+" id="now-here">\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC<', page
    )
    assert f'href="{reverse("account")}" aria-current="page"' in page  # the header's link


def test_a_chosen_zone_is_stored_audited_and_used_at_once(client: Any, viewer: Any) -> None:
    client.force_login(viewer)

    response = client.post(reverse("account"), {"time_zone": "America/New_York"}, follow=True)

    page = response.content.decode()
    assert Preferences.objects.get(user=viewer).time_zone == "America/New_York"
    assert AuditEvent.objects.filter(action="preferences.time_zone_changed").count() == 1
    assert "Times are now shown in America/New_York." in page
    assert '<option value="America/New_York" selected>America/New York</option>' in page
    assert re.search(r'id="now-here">\d{4}-\d{2}-\d{2} \d{2}:\d{2} E[SD]T<', page)


def test_an_unknown_zone_is_refused_with_a_clear_error(client: Any, viewer: Any) -> None:
    client.force_login(viewer)

    response = client.post(reverse("account"), {"time_zone": "Mars/Olympus_Mons"})

    page = response.content.decode()
    assert response.status_code == 400
    assert "Mars/Olympus_Mons is not a time zone this server knows" in page
    assert 'aria-invalid="true"' in page
    assert not Preferences.objects.exists()
    assert not AuditEvent.objects.filter(action="preferences.time_zone_changed").exists()


def test_people_without_a_role_choose_their_zone_too(client: Any, outsider: Any) -> None:
    client.force_login(outsider)

    client.post(reverse("account"), {"time_zone": "Asia/Tokyo"})

    assert Preferences.objects.get(user=outsider).time_zone == "Asia/Tokyo"


def test_people_who_are_not_signed_in_are_sent_to_sign_in(client: Any) -> None:
    response = client.get(reverse("account"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
