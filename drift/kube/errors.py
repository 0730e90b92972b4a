"""What the API server refused or could not answer, as `KubeError` subclasses by cause.

Transient failures (timeouts, 429, 5xx) are retried before one of these is raised; what
remains says what was refused and why.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})
# Kubernetes 1.20 answers 500 when server-side apply cannot make a typed object of the
# payload (later servers answer 422): a refusal of that payload, which no retry changes.
_REFUSED_AS_500 = ("failed to create typed patch object", "failed to create typed live object")


def is_transient(status: int, data: bytes) -> bool:
    """Whether an answer is worth another attempt."""
    if status not in TRANSIENT_STATUSES:
        return False
    return not (status == 500 and any(text.encode() in data for text in _REFUSED_AS_500))


class KubeError(Exception):
    """A request the API server refused or could not answer."""

    def __init__(self, message: str, status: int | None = None, reason: str = "") -> None:
        super().__init__(message)
        self.status, self.reason = status, reason


class BadKubeconfig(KubeError):
    """The kubeconfig cannot be used (syntax, unknown context, missing credentials), or asks
    for what this server refuses (a command to run, a file to read); ``problems`` names
    each field at fault."""

    def __init__(self, message: str, problems: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.problems = tuple(problems) or (message,)


class Refused(KubeError):
    """The server refused the request itself (400, 422, or a payload it cannot type)."""


class Unreachable(KubeError):
    """No answer after retries: network, TLS, timeouts, or the server kept failing."""


class Forbidden(KubeError):
    """403: the identity's RBAC does not allow it."""


class NotFound(KubeError):
    """404: no such object or resource type."""


class Conflict(KubeError):
    """409: a conflicting change (field manager conflict, resourceVersion mismatch)."""


class Gone(KubeError):
    """410: the resourceVersion a watch asked for is too old; list again."""


BY_STATUS: dict[int, type[KubeError]] = {
    400: Refused,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    410: Gone,
    422: Refused,
}


def from_response(status: int, data: bytes, method: str, path: str, server: str) -> KubeError:
    """The error for a refused request, from its status and the Status object it returned."""
    reason, message = "", ""
    try:
        body = json.loads(data)
        reason, message = str(body.get("reason", "")), str(body.get("message", ""))
    except (ValueError, AttributeError):
        message = data[:300].decode(errors="replace") if data else ""
    if status in TRANSIENT_STATUSES:
        error_type: type[KubeError] = Unreachable if is_transient(status, data) else Refused
    else:
        error_type = BY_STATUS.get(status, KubeError)
    return error_type(
        f"{method} {path} on {server}: {status} {reason}: {message}".strip(), status, reason
    )


def shorten(error: BaseException) -> str:
    """The error on one line (urllib3's messages nest others, some on several lines)."""
    text = " ".join(str(error).split())
    return text if len(text) < 200 else text[:197] + "..."
