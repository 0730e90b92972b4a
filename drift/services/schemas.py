"""The API servers' own schemas, for payloads of server-side apply.

Server-side apply checks a payload against the server's typed schema before it merges
anything (see drift.engine.apply_form). The schema comes from the server itself, so the
payload suits whatever version it runs and the custom resources it serves. The document
is several MB: it is read once per server and kept for SCHEMA_TTL in this process.
"""

from __future__ import annotations

import logging
import threading
import time

from drift import kube
from drift.engine.apply_form import ApplySchema

log = logging.getLogger(__name__)

# A new custom resource definition shows up in the schema after this long at most.
SCHEMA_TTL = 600.0

_lock = threading.Lock()
_kept: dict[str, tuple[float, ApplySchema]] = {}


def apply_schema(connection: kube.Kube) -> ApplySchema | None:
    """The server's schema, or None when it cannot be read (payloads then go as written,
    and the server's answer says what it refused)."""
    now = time.monotonic()
    with _lock:
        kept = _kept.get(connection.server)
        if kept is not None and now - kept[0] < SCHEMA_TTL:
            return kept[1]
    try:
        schema = ApplySchema(connection.openapi())
    except kube.KubeError as error:
        log.warning("cannot read the OpenAPI schema of %s: %s", connection.server, error)
        return None
    with _lock:
        _kept[connection.server] = (now, schema)
    return schema


def forget() -> None:
    """Drop every kept schema (tests; a server that was upgraded in place)."""
    with _lock:
        _kept.clear()
