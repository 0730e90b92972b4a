"""Rate limits per token (so one runaway integration cannot starve the others), per user
for browser sessions, and per address for anonymous calls (the address as the trusted
proxies saw it: DRF's own get_ident believes whatever X-Forwarded-For a client sends).

Counters live in the shared "api" cache (Redis in production) so every web process
counts together. When that cache is down the API stays up, unthrottled: refusing every
call because a counter is unreachable would turn a Redis outage into an API outage.

Every API response says where its caller stands, in the IETF httpapi draft's names:
`RateLimit-Limit` (calls per window), `RateLimit-Remaining`, `RateLimit-Reset` (seconds
until the oldest counted call leaves the window, so one more is allowed: on a 429 it
equals Retry-After) and `RateLimit-Policy` (`600;w=60`). Answers the throttle never saw
(a 401 or 403 decided before it, an unknown /api/ path) show the caller's quota
without counting the call.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.http import HttpRequest, HttpResponse
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from driftcontrol.lockout import client_address
from driftcontrol.models import ApiToken

log = logging.getLogger(__name__)

HEADERS = ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "RateLimit-Policy")
# Where the throttle leaves the caller's quota for the middleware, on the Django request.
_QUOTA = "rate_limit_quota"


@dataclass(frozen=True)
class Quota:
    """Where one caller stands in its window."""

    limit: int
    remaining: int
    reset: int  # seconds
    window: int  # seconds

    def headers(self) -> dict[str, str]:
        return {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset),
            "RateLimit-Policy": f"{self.limit};w={self.window}",
        }


def _identify(user: Any, auth: Any, address: Callable[[], str]) -> tuple[str, str]:
    """(scope, ident): the token, else the signed-in user, else the address."""
    if isinstance(auth, ApiToken):
        return "client", f"token:{auth.pk}"
    if user is not None and user.is_authenticated:
        return "client", f"user:{user.pk}"
    return "anonymous", f"ip:{address()}"


class ClientRateThrottle(SimpleRateThrottle):
    def __init__(self) -> None:  # the rate depends on the request; see allow_request
        self.cache = caches["api"]

    def allow_request(self, request: Request, view: Any) -> bool:
        self.scope, self.ident = _identify(
            request.user, request.auth, lambda: client_address(request)
        )
        self.rate = settings.API_THROTTLE_RATES[self.scope]
        limit, window = _rate(self.scope)
        self.num_requests, self.duration = limit, window
        try:
            allowed = bool(super().allow_request(request, view))
        except Exception as error:  # redis.ConnectionError and kin: fail open, loudly
            log.warning("API throttle cache unavailable, not throttling: %s", error)
            return True
        quota = _quota(self.history, self.now, limit, window)
        setattr(request._request, _QUOTA, quota)
        return allowed

    def get_cache_key(self, request: Request, view: Any) -> str:
        return f"throttle:{self.ident}"


def _rate(scope: str) -> tuple[int, int]:
    """(calls, window in seconds) of a scope's rate, e.g. 600/minute."""
    calls, window = ClientRateThrottle().parse_rate(settings.API_THROTTLE_RATES[scope])
    if calls is None or window is None:  # settings check the rates; this cannot happen
        raise ValueError(f"no API rate for {scope}")
    return calls, window


def _quota(history: list[float], now: float, limit: int, window: int) -> Quota:
    """From the throttle's history (newest first, already cut to the window)."""
    recent = [moment for moment in history if moment > now - window]
    reset = math.ceil(recent[-1] + window - now) if recent else 0
    return Quota(limit, max(0, limit - len(recent)), max(0, reset), window)


def peek(request: HttpRequest) -> Quota | None:
    """The caller's quota now, without counting this call (None when the cache is down)."""
    scope, ident = _identify(
        getattr(request, "user", None),
        getattr(request, "auth", None),
        lambda: client_address(request),
    )
    limit, window = _rate(scope)
    try:
        history = caches["api"].get(f"throttle:{ident}", [])
    except Exception as error:
        log.warning("API throttle cache unavailable, no rate-limit headers: %s", error)
        return None
    return _quota(history, time.time(), limit, window)


class RateLimitHeadersMiddleware:
    """Adds the RateLimit-* headers to every answer under /api/ whose view is throttled
    (all but those that opt out with ``throttle_classes = []``)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        match = request.resolver_match
        if match is None or "api" not in match.namespaces or HEADERS[0] in response:
            return response
        quota = getattr(request, _QUOTA, None)
        if quota is None and _throttled(match.func, response):
            quota = peek(request)
        if quota is not None:
            for name, value in quota.headers().items():
                response[name] = value
        return response


def _throttled(view: Any, response: HttpResponse) -> bool:
    # A 429 the throttle did not give is another limit's (bad tokens from an address):
    # this quota's numbers beside it would contradict its Retry-After.
    if response.status_code == 429:
        return False
    throttles = getattr(getattr(view, "cls", None), "throttle_classes", None)
    return throttles is None or any(issubclass(t, ClientRateThrottle) for t in throttles)
