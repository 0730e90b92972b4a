"""RateLimit-Limit, -Remaining, -Reset and -Policy on every API answer, errors included,
for a token client and an anonymous one; Retry-After on 429."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from tests.factories import FindingFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _rates(settings: Any) -> None:
    settings.API_THROTTLE_RATES = {"client": "5/minute", "anonymous": "3/minute"}


def quota(response: Any) -> tuple[int, int, int, str]:
    return (
        int(response["RateLimit-Limit"]),
        int(response["RateLimit-Remaining"]),
        int(response["RateLimit-Reset"]),
        response["RateLimit-Policy"],
    )


def test_a_token_client_sees_its_quota_go_down_on_answers_and_errors(client_for, viewer):
    finding = FindingFactory()
    client = client_for(viewer)

    answers = [
        client.get("/api/v1/findings/"),
        client.get(f"/api/v1/findings/{finding.pk}/"),
        client.get("/api/v1/findings/999999/"),  # 404
        client.get("/api/v1/findings/", {"colour": "red"}),  # 400
        client.post(f"/api/v1/findings/{finding.pk}/acknowledge/"),  # 403: a viewer
    ]

    assert [a.status_code for a in answers] == [200, 200, 404, 400, 403]
    assert [quota(a)[:2] for a in answers] == [(5, 4), (5, 3), (5, 2), (5, 1), (5, 1)]
    assert all(0 < quota(a)[2] <= 60 and quota(a)[3] == "5;w=60" for a in answers)


def test_the_throttled_answer_has_retry_after_equal_to_the_reset(client_for, viewer):
    client = client_for(viewer)
    for _ in range(5):
        client.get("/api/v1/me/")

    refused = client.get("/api/v1/me/")

    assert refused.status_code == 429
    limit, remaining, reset, _ = quota(refused)
    assert (limit, remaining) == (5, 0)
    assert 0 < reset <= 60
    assert int(refused["Retry-After"]) == reset


def test_an_anonymous_client_sees_the_quota_of_its_address():
    client = APIClient()

    unauthenticated = client.get("/api/v1/findings/", REMOTE_ADDR="198.51.100.7")
    schema = client.get("/api/schema/", {"format": "json"}, REMOTE_ADDR="198.51.100.7")
    nowhere = client.get("/api/v1/nothing-here/", REMOTE_ADDR="198.51.100.7")

    assert unauthenticated.status_code == 401
    # The 401 is decided before the throttle counts: it shows the quota without using it.
    assert quota(unauthenticated)[:2] == (3, 3)
    assert quota(schema)[:2] == (3, 2)
    assert nowhere.status_code == 404 and quota(nowhere)[:2] == (3, 2)
    assert quota(nowhere)[3] == "3;w=60"


def test_each_token_counts_on_its_own(client_for, viewer, operator):
    first, second = client_for(viewer), client_for(operator)
    first.get("/api/v1/me/")
    first.get("/api/v1/me/")

    assert quota(second.get("/api/v1/me/"))[:2] == (5, 4)
    assert quota(first.get("/api/v1/me/"))[:2] == (5, 2)


def test_pages_carry_no_rate_limit_headers(client_for, viewer, client):
    client.force_login(viewer)

    page = client.get("/findings/")

    assert page.status_code == 200
    assert "RateLimit-Limit" not in page


def test_without_the_counters_cache_the_api_answers_without_the_headers(
    client_for, viewer, monkeypatch
):
    client = client_for(viewer)

    def down(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("redis is down")

    from django.core.cache import caches

    monkeypatch.setattr(caches["api"], "get", down)

    response = client.get("/api/v1/me/")

    assert response.status_code == 200
    assert "RateLimit-Limit" not in response
