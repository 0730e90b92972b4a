"""One error body for the whole API, whatever raised it:

    {"type": "not-found", "title": "Not found", "status": 404, "detail": "no finding #7"}

400s add ``errors``: one entry per bad field, e.g. {"field": "spec.interval", "detail": ...}.
Domain refusals map here and nowhere else: NotAllowed 403, NotFound 404,
InvalidTransition (and AlreadyDecided) 409, any other DomainError 400. A body larger
than DATA_UPLOAD_MAX_MEMORY_SIZE is 413.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import Http404
from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions
from rest_framework.response import Response

from driftcontrol.exceptions import (
    AlreadyDecided,
    ClusterRefused,
    ClusterUnreachable,
    DomainError,
    Invalid,
    InvalidTransition,
    NotAllowed,
    NotFound,
)

log = logging.getLogger(__name__)

TITLES = {
    400: "Invalid request",
    401: "Authentication needed",
    403: "Not allowed",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    409: "Conflict",
    412: "Precondition failed",
    413: "Request too large",
    415: "Unsupported media type",
    422: "Unprocessable request",
    428: "Precondition required",
    429: "Too many requests",
    500: "Server error",
    502: "Refused by the cluster",
    503: "Cluster unreachable",
}
TYPES = {
    400: "invalid-request",
    401: "not-authenticated",
    403: "permission-denied",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    409: "conflict",
    412: "precondition-failed",
    413: "request-too-large",
    415: "unsupported-media-type",
    422: "unprocessable",
    428: "precondition-required",
    429: "throttled",
    500: "server-error",
    502: "cluster-refused",
    503: "cluster-unreachable",
}
# Every ``type`` an error body can carry; the schema publishes them as an enum, so a new
# one must be added here (the schema test fails on a body whose type is not listed).
PROBLEM_TYPES = frozenset(
    {
        *TYPES.values(),
        "validation-error",
        "already-decided",
        "invalid-transition",
        "idempotency-key-in-use",
        "idempotency-key-reused",
    }
)


def _type_of(status_code: int) -> str:
    return TYPES.get(status_code) or ("server-error" if status_code >= 500 else "invalid-request")


class Problem(exceptions.APIException):
    """An API error with its own type slug (idempotency conflicts, domain refusals)."""

    def __init__(self, status_code: int, detail: str, problem_type: str | None = None) -> None:
        self.status_code = status_code
        self.problem_type = problem_type or _type_of(status_code)
        super().__init__(detail)


def problem_body(status_code: int, detail: str, problem_type: str | None = None) -> dict[str, Any]:
    """The error body, for endpoints outside DRF that answer in the API's shape."""
    return {
        "type": problem_type or _type_of(status_code),
        "title": TITLES.get(status_code, "Error"),
        "status": status_code,
        "detail": detail,
    }


def documented(description: str, *problem_types: str) -> OpenApiResponse:
    """An error answer for ``extend_schema(responses=...)``: the Problem body, its ``type``
    one of ``problem_types`` (so a client can tell a stale state from a busy key)."""
    schema = {
        "allOf": [
            {"$ref": "#/components/schemas/Problem"},
            {"type": "object", "properties": {"type": {"type": "string", "enum": problem_types}}},
        ]
    }
    kinds = ", ".join(f"`{t}`" for t in problem_types)
    return OpenApiResponse(schema, description=f"{description} (type {kinds})")


def too_large(limit: int) -> str:
    return f"the request body is larger than {limit:,} bytes, the most this endpoint reads"


def problem(
    status_code: int,
    detail: str,
    problem_type: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    body = problem_body(status_code, detail, problem_type)
    if errors is not None:
        body["errors"] = errors
    body.update(extra)
    return Response(body, status=status_code, headers=headers)


def field_errors(detail: Any, prefix: str = "") -> list[dict[str, Any]]:
    """Flatten DRF's nested error detail into [{"field": "a.b[0].c", "detail": "..."}]."""
    found: list[dict[str, Any]] = []
    if isinstance(detail, dict):
        for key, value in detail.items():
            if key in ("non_field_errors", "__all__"):
                found += field_errors(value, prefix)
                continue
            if isinstance(key, int) or str(key).isdigit():  # a list's items, by index
                path = f"{prefix}[{key}]"
            else:
                path = f"{prefix}.{key}" if prefix else str(key)
            found += field_errors(value, path)
    elif isinstance(detail, list):
        for index, value in enumerate(detail):
            if isinstance(value, dict | list):
                found += field_errors(value, f"{prefix}[{index}]")
            else:
                found += field_errors(value, prefix)
    else:
        found.append({"field": prefix or None, "detail": str(detail)})
    return found


def _summary(errors: list[dict[str, Any]]) -> str:
    named = [e["field"] for e in errors if e["field"]]
    if not named:
        return errors[0]["detail"] if errors else "the request is not valid"
    return f"{len(errors)} problem(s): {', '.join(dict.fromkeys(named))}"


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, Invalid):
        errors = [{"field": p.path, "detail": p.message} for p in exc.problems]
        return problem(400, _summary(errors), "validation-error", errors)
    if isinstance(exc, DomainError):
        return _domain(exc)
    if isinstance(exc, RequestDataTooBig):
        return problem(413, too_large(settings.DATA_UPLOAD_MAX_MEMORY_SIZE))
    if isinstance(exc, SuspiciousOperation):  # too many fields, a malformed header...
        return problem(400, "the request could not be read")
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or "not found")
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    if isinstance(exc, exceptions.ValidationError):
        errors = field_errors(exc.detail)
        return problem(400, _summary(errors), "validation-error", errors)
    if isinstance(exc, exceptions.APIException):
        # An exception may carry headers of its answer (a 412 its object's current ETag).
        headers: dict[str, str] = dict(getattr(exc, "response_headers", None) or {})
        wait = getattr(exc, "wait", None) if isinstance(exc, exceptions.Throttled) else None
        if wait is not None:
            headers["Retry-After"] = str(max(1, math.ceil(wait)))
        if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
            authenticate = context["request"].authenticators
            if authenticate:
                headers["WWW-Authenticate"] = authenticate[0].authenticate_header(
                    context["request"]
                )
        problem_type = getattr(exc, "problem_type", None)
        return problem(exc.status_code, _text(exc.detail), problem_type, headers=headers)
    log.exception("API error in %s", context.get("view").__class__.__name__)
    return problem(500, "an unexpected error happened; it has been logged", "server-error")


def _domain(exc: DomainError) -> Response:
    if isinstance(exc, NotAllowed):
        return problem(403, str(exc))
    if isinstance(exc, NotFound):
        return problem(404, str(exc))
    if isinstance(exc, AlreadyDecided):
        return problem(409, str(exc), "already-decided")
    if isinstance(exc, InvalidTransition):
        return problem(409, str(exc), "invalid-transition")
    if isinstance(exc, ClusterRefused):
        # The cluster said no: a gateway's answer (5xx), with the cluster's own words.
        answer = {"name": exc.cluster, "status": exc.status, "message": exc.message}
        return problem(502, str(exc), cluster=answer)
    if isinstance(exc, ClusterUnreachable):
        return problem(503, str(exc))
    errors_by_field = getattr(exc, "field_errors", None)
    if errors_by_field:
        errors = field_errors(errors_by_field)
        return problem(400, str(exc), "validation-error", errors)
    return problem(400, str(exc), "invalid-request")


def _text(detail: Any) -> str:
    if isinstance(detail, list):
        return " ".join(str(d) for d in detail)
    if isinstance(detail, dict):
        return " ".join(f"{k}: {_text(v)}" for k, v in detail.items())
    return str(detail)


__all__ = [
    "PROBLEM_TYPES",
    "Problem",
    "documented",
    "exception_handler",
    "field_errors",
    "problem",
    "problem_body",
    "too_large",
]
