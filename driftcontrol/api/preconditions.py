"""Conditional writes (RFC 9110 §13.1.1): every object answer carries an ``ETag``; a write
that sends ``If-Match`` happens only if the object is still the version the client read.

The check is only as good as where it runs: callers compare the tag inside the write's
transaction, after locking the row (``select_for_update``), so two clients that read the
same version cannot both pass the check and both write - the second waits for the lock,
then sees the first one's version and gets 412.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.utils.http import parse_etags, quote_etag
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import exceptions
from rest_framework.request import Request

from driftcontrol.api.schema import problem

HEADER = "If-Match"


class PreconditionFailed(exceptions.APIException):
    """412: the object changed since the client read it. The answer carries the current
    ETag, so a client that merges its change itself need not read the object again."""

    status_code = 412
    problem_type = "precondition-failed"
    default_detail = "the object changed since you read it; GET it again and redo the change"

    def __init__(self, current: str) -> None:
        super().__init__()
        self.response_headers = {"ETag": current}


class PreconditionRequired(exceptions.APIException):
    """428: this write must say which version it replaces."""

    status_code = 428
    problem_type = "precondition-required"
    default_detail = "send the If-Match header with the ETag of the version you read (GET it first)"


def etag(*parts: Any) -> str:
    """A strong validator: a digest of the parts as canonical JSON. It changes whenever
    the content does, however close together two writes are (a timestamp may not)."""
    canonical = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return quote_etag(hashlib.sha256(canonical.encode()).hexdigest()[:40])


def check(request: Request, current: str, *, required: bool) -> None:
    """Refuse the write unless If-Match names ``current`` (or is ``*``). Weak tags never
    match: If-Match compares strongly."""
    given = request.headers.get(HEADER)
    if given is None or not given.strip():
        if required:
            raise PreconditionRequired()
        return
    tags = parse_etags(given)
    if tags == ["*"]:
        return  # any version, as long as the object exists (it does: it is locked)
    if current not in (tag for tag in tags if not tag.startswith("W/")):
        raise PreconditionFailed(current)


_TAG = 'the object\'s version, e.g. "3f2a..."; send it back in If-Match to write'


def etag_header(status: int) -> OpenApiParameter:
    """The ETag response header of a ``status`` answer, as the schema shows it."""
    return OpenApiParameter(
        "ETag", OpenApiTypes.STR, OpenApiParameter.HEADER, description=_TAG, response=[status]
    )


def if_match(*, required: bool) -> OpenApiParameter:
    """The If-Match request header, as the schema shows it."""
    use = (
        "required: the ETag of the version this replaces (a stale one is refused with 412)"
        if required
        else "optional: write only if the object is still this version (412 otherwise)"
    )
    return OpenApiParameter(
        HEADER, OpenApiTypes.STR, OpenApiParameter.HEADER, required=required, description=use
    )


STALE = problem(
    "precondition-failed: If-Match names a version that is no longer current; the answer's "
    "ETag header is the current one"
)
MISSING = problem("precondition-required: the If-Match header is missing")

__all__ = [
    "HEADER",
    "MISSING",
    "STALE",
    "PreconditionFailed",
    "PreconditionRequired",
    "check",
    "etag",
    "etag_header",
    "if_match",
]
