"""Sign-in throttling: per account and per address, time-boxed, audited, and failing open
when the counters' cache is down. The attack it answers: 40 wrong passwords in 11 s, then
the right one signed in."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.test import Client, RequestFactory
from django.urls import reverse

from driftcontrol.lockout import client_address
from driftcontrol.models import AuditEvent

pytestmark = pytest.mark.django_db
PASSWORD = "correct horse battery staple"  # tests.factories.UserFactory's
ACCOUNT_LOCKED = b"Too many failed sign-ins for this account. Try again in 15 minutes."


@pytest.fixture(autouse=True)
def _limits(settings: Any) -> None:
    settings.LOGIN_FAILURES_PER_ACCOUNT = 5
    settings.LOGIN_FAILURES_PER_ADDRESS = 20
    settings.LOGIN_FAILURE_WINDOW_SECONDS = 900
    settings.LOGIN_LOCKOUT_SECONDS = 900


def sign_in(client: Client, username: str, password: str, address: str = "192.0.2.10") -> Any:
    return client.post(
        reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=address
    )


def signed_in(response: Any) -> bool:
    return response.status_code == 302 and response.url == reverse("home")


def test_five_wrong_passwords_lock_the_account_even_for_the_right_one(client, operator):
    for _ in range(4):
        response = sign_in(client, "oscar", "guess")
        assert b"Please enter a correct username and password" in response.content

    fifth = sign_in(client, "oscar", "guess")
    right = sign_in(client, "oscar", PASSWORD)

    assert ACCOUNT_LOCKED in fifth.content
    assert right.status_code == 200
    assert ACCOUNT_LOCKED in right.content
    assert "_auth_user_id" not in client.session


def test_the_lock_holds_from_every_address_and_ends_after_the_lockout(client, operator, settings):
    settings.LOGIN_LOCKOUT_SECONDS = 1
    for _ in range(5):
        sign_in(client, "oscar", "guess", address="192.0.2.10")

    elsewhere = sign_in(Client(), "oscar", PASSWORD, address="198.51.100.7")
    assert b"Try again in 1 second." in elsewhere.content

    time.sleep(1.2)
    assert signed_in(sign_in(Client(), "oscar", PASSWORD, address="198.51.100.7"))


def test_a_successful_sign_in_clears_the_accounts_count(client, operator):
    for _ in range(4):
        sign_in(client, "oscar", "guess")
    assert signed_in(sign_in(client, "oscar", PASSWORD))
    client.logout()

    for _ in range(4):
        response = sign_in(client, "oscar", "guess")

    assert b"Please enter a correct username and password" in response.content
    assert signed_in(sign_in(client, "oscar", PASSWORD))


def test_names_differing_in_case_share_a_count(client, operator):
    for name in ("oscar", "Oscar", "OSCAR", "oScar", "osCAR"):
        response = sign_in(client, name, "guess")

    assert b"Too many failed sign-ins for this account" in response.content


def test_unknown_names_are_locked_like_real_ones(client):
    for _ in range(5):
        response = sign_in(client, "nobody-here", "guess")

    assert ACCOUNT_LOCKED in response.content


def test_an_address_guessing_across_accounts_is_locked_but_others_are_not(
    client, operator, settings
):
    settings.LOGIN_FAILURES_PER_ADDRESS = 8
    for n in range(7):
        sign_in(client, f"user{n}", "guess", address="203.0.113.5")

    eighth = sign_in(client, "someone", "guess", address="203.0.113.5")
    oscar_there = sign_in(Client(), "oscar", PASSWORD, address="203.0.113.5")
    oscar_elsewhere = sign_in(Client(), "oscar", PASSWORD, address="198.51.100.7")

    assert b"Too many failed sign-ins from your address. Try again in 15 minutes." in eighth.content
    assert b"from your address" in oscar_there.content
    assert signed_in(oscar_elsewhere)


def test_an_address_count_is_not_cleared_by_signing_in(client, operator, settings):
    settings.LOGIN_FAILURES_PER_ADDRESS = 8
    for n in range(7):
        sign_in(client, f"user{n}", "guess", address="203.0.113.5")
    assert signed_in(sign_in(Client(), "oscar", PASSWORD, address="203.0.113.5"))

    response = sign_in(client, "someone", "guess", address="203.0.113.5")

    assert b"from your address" in response.content


def test_while_locked_the_password_is_not_even_checked(client, operator, monkeypatch):
    for _ in range(5):
        sign_in(client, "oscar", "guess")
    checked: list[str] = []
    monkeypatch.setattr(
        "django.contrib.auth.forms.authenticate", lambda *a, **kw: checked.append("!")
    )

    sign_in(client, "oscar", PASSWORD)

    assert checked == []


def test_failures_and_locks_are_audited(client, operator):
    for _ in range(5):
        sign_in(client, "oscar", "guess")
    sign_in(client, "oscar", PASSWORD)  # refused while locked: no guess, no event

    failed = AuditEvent.objects.filter(action="auth.login_failed")
    locked = AuditEvent.objects.get(action="auth.locked_out")
    assert failed.count() == 5
    assert {e.data["username"] for e in failed} == {"oscar"}
    assert failed.first().object_repr == "oscar"
    assert locked.data == {
        "username": "oscar",
        "address": "192.0.2.10",
        "scope": "account",
        "seconds": 900,
    }


def test_the_admin_sign_in_is_guarded_too(client, admin_user):
    for _ in range(5):
        client.post(
            "/admin/login/", {"username": "ada", "password": "guess"}, REMOTE_ADDR="192.0.2.10"
        )

    response = client.post(
        "/admin/login/", {"username": "ada", "password": PASSWORD}, REMOTE_ADDR="192.0.2.10"
    )

    assert response.status_code == 200
    assert b"Too many failed sign-ins for this account" in response.content


def test_a_right_password_without_admin_access_is_no_guess(client, operator):
    for _ in range(6):
        client.post("/admin/login/", {"username": "oscar", "password": PASSWORD})

    assert not AuditEvent.objects.filter(action="auth.login_failed").exists()
    assert signed_in(sign_in(client, "oscar", PASSWORD))


def test_sign_in_works_unthrottled_when_the_cache_is_down(client, operator, settings, caplog):
    unreachable = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",
    }
    settings.CACHES = {**settings.CACHES, "api": unreachable}

    wrong = sign_in(client, "oscar", "guess")
    right = sign_in(client, "oscar", PASSWORD)

    assert b"Please enter a correct username and password" in wrong.content
    assert signed_in(right)
    assert "lockout cache unavailable" in caplog.text


@pytest.mark.parametrize(
    ("hops", "remote", "forwarded", "address"),
    [
        (0, "192.0.2.1", "198.51.100.1", "192.0.2.1"),  # no proxy: the header is a claim
        (1, "10.0.0.2", "6.6.6.6, 198.51.100.1", "198.51.100.1"),  # what our proxy saw
        (2, "10.0.0.2", "6.6.6.6, 198.51.100.1, 10.0.0.3", "198.51.100.1"),
        (1, "10.0.0.2", "", "10.0.0.2"),
        (0, "2001:db8:1:2:aaaa::1", "", "2001:db8:1:2::/64"),  # one /64, one client
        (0, "::ffff:192.0.2.9", "", "192.0.2.9"),
    ],
)
def test_the_client_address_believes_only_trusted_proxies(
    settings, hops, remote, forwarded, address
):
    settings.TRUSTED_PROXY_COUNT = hops
    request = RequestFactory().get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)

    assert client_address(request) == address
