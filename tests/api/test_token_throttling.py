"""Bad bearer tokens are rate-limited per address: after TOKEN_FAILURES_PER_ADDRESS of them
the address gets 429 with Retry-After, before any token it sends is looked up."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from tests.api.conftest import token_for

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _limits(settings: Any) -> None:
    settings.TOKEN_FAILURES_PER_ADDRESS = 3
    settings.TOKEN_FAILURE_WINDOW_SECONDS = 600


def call(token: str, address: str = "192.0.2.10", **headers: str) -> Any:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client.get("/api/v1/me/", REMOTE_ADDR=address, **headers)


def test_an_address_sending_bad_tokens_gets_429_with_retry_after(viewer):
    good = token_for(viewer)
    codes = [call(f"dct_guess{n}").status_code for n in range(3)]

    refused = call(good)

    assert codes == [401, 401, 401]
    assert refused.status_code == 429
    assert refused["Retry-After"] == "600"
    assert refused.json() == {
        "type": "throttled",
        "title": "Too many requests",
        "status": 429,
        "detail": "Too many bad tokens from this address. Expected available in 600 seconds.",
    }


def test_a_throttled_address_is_refused_before_its_token_is_looked_up(monkeypatch):
    looked_up: list[str] = []
    monkeypatch.setattr(
        "driftcontrol.tokens.authenticate", lambda raw: looked_up.append(raw) or None
    )
    for n in range(3):
        call(f"dct_guess{n}")

    call("dct_one-more")

    assert looked_up == ["dct_guess0", "dct_guess1", "dct_guess2"]


def test_malformed_headers_count_too():
    for header in ("Bearer", "Bearer a b", "Bearer caf\u00e9"):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=header)
        client.get("/api/v1/me/", REMOTE_ADDR="192.0.2.10")

    assert call("dct_anything").status_code == 429


def test_other_addresses_and_good_tokens_are_not_affected(viewer):
    good = token_for(viewer)
    for _ in range(10):
        assert call(good).status_code == 200
    for n in range(3):
        call(f"dct_guess{n}", address="203.0.113.5")

    assert call(good, address="198.51.100.7").status_code == 200
    assert call(good).status_code == 200


def test_browser_sessions_from_a_throttled_address_still_work(client, viewer):
    for n in range(3):
        call(f"dct_guess{n}", address="127.0.0.1")
    client.force_login(viewer)

    assert client.get("/api/v1/me/").status_code == 200


def test_spoofed_forwarded_for_headers_do_not_reset_the_count(settings):
    settings.TOKEN_FAILURES_PER_ADDRESS = 3
    settings.TRUSTED_PROXY_COUNT = 1
    proxy = "10.0.0.2"
    for n in range(3):
        call(f"dct_guess{n}", proxy, HTTP_X_FORWARDED_FOR=f"6.6.6.{n}, 198.51.100.1")

    again = call("dct_guess", proxy, HTTP_X_FORWARDED_FOR="7.7.7.7, 198.51.100.1")
    other_client = call("dct_guess", proxy, HTTP_X_FORWARDED_FOR="198.51.100.2")

    assert again.status_code == 429
    assert other_client.status_code == 401


def test_bad_tokens_are_answered_unthrottled_when_the_cache_is_down(settings, viewer, caplog):
    unreachable = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",
    }
    settings.CACHES = {**settings.CACHES, "api": unreachable}
    good = token_for(viewer)

    codes = [call(f"dct_guess{n}").status_code for n in range(5)]

    assert codes == [401] * 5
    assert call(good).status_code == 200
    assert "lockout cache unavailable" in caplog.text
