"""Rate limits per token (so one runaway integration cannot starve the others), per user
for browser sessions, and per address for anonymous calls (the address as the trusted
proxies saw it: DRF's own get_ident believes whatever X-Forwarded-For a client sends).

Counters live in the shared "api" cache (Redis in production) so every web process
counts together. When that cache is down the API stays up, unthrottled: refusing every
call because a counter is unreachable would turn a Redis outage into an API outage.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.cache import caches
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from driftcontrol.lockout import client_address
from driftcontrol.models import ApiToken

log = logging.getLogger(__name__)


class ClientRateThrottle(SimpleRateThrottle):
    def __init__(self) -> None:  # the rate depends on the request; see allow_request
        self.cache = caches["api"]

    def allow_request(self, request: Request, view: Any) -> bool:
        if isinstance(request.auth, ApiToken):
            self.scope, self.ident = "client", f"token:{request.auth.pk}"
        elif request.user and request.user.is_authenticated:
            self.scope, self.ident = "client", f"user:{request.user.pk}"
        else:
            self.scope, self.ident = "anonymous", f"ip:{client_address(request)}"
        self.rate = settings.API_THROTTLE_RATES[self.scope]
        self.num_requests, self.duration = self.parse_rate(self.rate)
        try:
            return super().allow_request(request, view)
        except Exception as error:  # redis.ConnectionError and kin: fail open, loudly
            log.warning("API throttle cache unavailable, not throttling: %s", error)
            return True

    def get_cache_key(self, request: Request, view: Any) -> str:
        return f"throttle:{self.ident}"
