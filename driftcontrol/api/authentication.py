"""`Authorization: Bearer <token>` for machines; browsers use their session (with CSRF)."""

from __future__ import annotations

from typing import Any

from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed, Throttled
from rest_framework.request import Request

from driftcontrol import lockout, tokens


class BearerTokenAuthentication(BaseAuthentication):
    keyword = b"bearer"

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword:
            return None  # not ours: the session (or nothing) decides
        # An address sending bad tokens waits before any token of it is even looked up.
        address, limit = lockout.client_address(request), lockout.bad_tokens()
        wait = limit.locked_for(address)
        if wait:
            raise Throttled(wait, "Too many bad tokens from this address.")
        try:
            return self._authenticate(parts)
        except AuthenticationFailed:
            limit.failed(address)
            raise

    def _authenticate(self, parts: list[bytes]) -> tuple[Any, Any]:
        if len(parts) != 2:
            raise AuthenticationFailed("send `Authorization: Bearer <token>`, the token alone")
        try:
            raw = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise AuthenticationFailed("the token is unknown, revoked or expired") from None
        token = tokens.authenticate(raw)
        if token is None:
            raise AuthenticationFailed("the token is unknown, revoked or expired")
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="DriftControl API"'
