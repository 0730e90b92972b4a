"""Signatures.

``X-DriftControl-Signature: t=<unix time>,v1=<hex>[,v1=<hex>]``: each hex is
HMAC-SHA256(secret, f"{t}.{body}"). After a rotation, and until its overlap ends, every
delivery carries two v1 values, the new secret's first, as Stripe does: a receiver that
accepts any v1 matching a secret it knows can switch secrets at its own pace.
"""

from __future__ import annotations

import hashlib
import hmac


def signature(secret: str, timestamp: int, body: bytes, *older: str) -> str:
    """The X-DriftControl-Signature value: the time is signed too, so receivers can refuse
    old requests replayed by someone who captured one."""
    values = [f"t={timestamp}"]
    for key in (secret, *older):
        mac = hmac.new(key.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
        values.append(f"v1={mac.hexdigest()}")
    return ",".join(values)
