"""What the delivery log keeps of an attempt: the request as sent and the response as
received, with credentials redacted and the response body bounded.

The log is read by admins debugging an integration, and kept for the outbox's retention:
a signature (replayable within the receiver's tolerance), a cookie or a token a receiver
sends back has no place in it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

REDACTED = "[redacted]"
# The response body kept per attempt; the rest is dropped and the row says so.
MAX_RESPONSE_BODY = 16 * 1024
_SECRET_HEADER = re.compile(
    r"^(authorization|proxy-authorization|cookie|set-cookie|set-cookie2|x-driftcontrol-signature"
    r"|www-authenticate|proxy-authenticate|x-api-key|x-auth-token|x-csrf-token|x-xsrf-token)$"
    r"|(secret|token|password|signature|session|api-?key)",
    re.IGNORECASE,
)


def redacted(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Headers with every credential's value replaced; a repeated header's values are
    joined as HTTP joins them."""
    kept: dict[str, str] = {}
    for name, value in headers:
        shown = REDACTED if _SECRET_HEADER.search(name) else value
        kept[name] = f"{kept[name]}, {shown}" if name in kept else shown
    return kept


def bounded(body: bytes) -> tuple[str, bool]:
    """The body as text, cut at MAX_RESPONSE_BODY bytes, and whether it was cut."""
    cut = len(body) > MAX_RESPONSE_BODY
    return body[:MAX_RESPONSE_BODY].decode("utf-8", "replace"), cut
