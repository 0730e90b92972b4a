"""Failed sign-ins and bad API tokens, counted per account and per client address.

Counters live in the shared "api" cache (Redis in production) so every web process counts
together. When that cache is down, signing in and the API stay up, unthrottled, and say so
in the log: refusing every sign-in because a counter is unreachable would turn a Redis
outage into an outage for everyone (the same choice as driftcontrol.api.throttling).

A lock is time-boxed and never grows, and refused attempts are not counted: an attacker
can keep a victim's account locked only by spending fresh guesses every lockout period,
each of them an audit event, and never for longer than the period after they stop.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import math
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import caches
from django.http import HttpRequest

from driftcontrol import audit

log = logging.getLogger(__name__)


def client_address(request: HttpRequest) -> str:
    """The client's address as the last trusted proxy saw it; IPv6 clients by their /64,
    since anyone holding one address of a /64 usually holds all of it."""
    address = request.META.get("REMOTE_ADDR") or ""
    hops = settings.TRUSTED_PROXY_COUNT
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    chain = [entry.strip() for entry in forwarded.split(",") if entry.strip()]
    if hops and chain:
        address = chain[-min(hops, len(chain))]
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:64] or "unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{ip}/64", strict=False))
    return str(ip)


@dataclass(frozen=True)
class Limit:
    """``failures`` within ``window`` seconds lock a key for ``lockout`` seconds."""

    name: str
    failures: int
    window: int
    lockout: int

    def locked_for(self, key: str) -> int:
        """Seconds the key stays locked; 0 when it is free (or the cache is down)."""
        try:
            until = caches["api"].get(self._lock(key))
        except Exception as error:  # redis.ConnectionError and kin: fail open, loudly
            log.warning("lockout cache unavailable, not limiting %s: %s", self.name, error)
            return 0
        return max(1, math.ceil(until - time.time())) if until else 0

    def failed(self, key: str) -> int:
        """Count one failure; the seconds the key is now locked for, 0 if it is not."""
        cache, counter = caches["api"], self._count(key)
        try:
            # add() starts the window only if no count runs yet; incr() is atomic in Redis.
            cache.add(counter, 0, timeout=self.window)
            if cache.incr(counter) < self.failures:
                return 0
            cache.set(self._lock(key), time.time() + self.lockout, timeout=self.lockout)
            cache.delete(counter)  # the next window starts after the lock
        except Exception as error:
            log.warning("lockout cache unavailable, not counting %s: %s", self.name, error)
            return 0
        return self.lockout

    def reset(self, key: str) -> None:
        try:
            caches["api"].delete(self._count(key))
        except Exception as error:
            log.warning("lockout cache unavailable, not resetting %s: %s", self.name, error)

    def _count(self, key: str) -> str:
        return f"lockout:{self.name}:count:{key}"

    def _lock(self, key: str) -> str:
        return f"lockout:{self.name}:lock:{key}"


def bad_tokens() -> Limit:
    window = settings.TOKEN_FAILURE_WINDOW_SECONDS
    return Limit("token-address", settings.TOKEN_FAILURES_PER_ADDRESS, window, window)


def _sign_in_limits() -> tuple[Limit, Limit]:
    window, lockout = settings.LOGIN_FAILURE_WINDOW_SECONDS, settings.LOGIN_LOCKOUT_SECONDS
    return (
        Limit("login-account", settings.LOGIN_FAILURES_PER_ACCOUNT, window, lockout),
        Limit("login-address", settings.LOGIN_FAILURES_PER_ADDRESS, window, lockout),
    )


@dataclass(frozen=True)
class Refusal:
    scope: str  # "account" or "address"
    seconds: int

    def __str__(self) -> str:
        whose = "for this account" if self.scope == "account" else "from your address"
        return f"Too many failed sign-ins {whose}. Try again in {wait_text(self.seconds)}."


def wait_text(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


class SignIn:
    """One attempt to sign in: refused while its account or address is locked, counted
    when its password is wrong, and clearing the account's count when it is right."""

    def __init__(self, request: HttpRequest, username: str) -> None:
        self.request, self.username = request, username
        self.address = client_address(request)
        # The name as typed, whether or not it exists: the answer reveals no user names.
        self.account = hashlib.sha256(username.casefold().encode()).hexdigest()[:32]
        by_account, by_address = _sign_in_limits()
        self.limits = [
            ("account", by_account, self.account),
            ("address", by_address, self.address),
        ]

    def refusal(self) -> Refusal | None:
        for scope, limit, key in self.limits:
            seconds = limit.locked_for(key)
            if seconds:
                return Refusal(scope, seconds)
        return None

    def failed(self) -> Refusal | None:
        user = self._user()
        data = {"username": self.username[:150], "address": self.address}
        audit.record(self.request.user, "auth.login_failed", user, data)
        refusals = [
            Refusal(scope, seconds)
            for scope, limit, key in self.limits
            if (seconds := limit.failed(key))
        ]
        for refusal in refusals:
            lock = {**data, "scope": refusal.scope, "seconds": refusal.seconds}
            audit.record(self.request.user, "auth.locked_out", user, lock)
            log.warning("sign-in locked by %s: %s", refusal.scope, lock)
        return refusals[0] if refusals else None

    def succeeded(self) -> None:
        # Only the account's count: an address's failures stand, or an attacker could
        # clear them by signing in to an account of their own between guesses.
        _, by_account, key = self.limits[0]
        by_account.reset(key)

    def _user(self) -> Any:
        model = get_user_model()
        return model._default_manager.filter(**{model.USERNAME_FIELD: self.username}).first()
