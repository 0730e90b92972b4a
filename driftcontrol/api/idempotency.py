"""`Idempotency-Key` on the POSTs that create things (scans, remediation requests,
decisions): a retry with the same key, by the same user, gets the first response back
and changes nothing.

The key is claimed in its own committed row before the view runs, so two copies of one
request racing each other cannot both execute: the second is told the first is still in
progress (409). A key reused for another endpoint or another body is refused (422)
rather than answered with a response to a different request. Only successful responses
are kept: a failed request changed nothing and may simply be retried.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter
from rest_framework.request import Request
from rest_framework.response import Response

from driftcontrol.api.errors import Problem
from driftcontrol.models import IdempotencyRecord

HEADER = "Idempotency-Key"
KEEP_FOR = timedelta(hours=24)
# A claim never completed (the process died mid-request) is taken over after this.
ABANDONED_AFTER = timedelta(minutes=5)
MAX_KEY_LENGTH = 200
# Visible ASCII, spaces only inside (HTTP trims them at the ends): a UUID fits, and a key
# reads the same in every log and every client library.
KEY = re.compile(r"[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?")

PARAMETER = OpenApiParameter(
    HEADER,
    {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH, "pattern": f"^{KEY.pattern}$"},
    OpenApiParameter.HEADER,
    required=False,
    description=(
        f"any unique string (a UUID) of 1 to {MAX_KEY_LENGTH} visible ASCII characters: a "
        "retry with the same key returns the first response (with `Idempotent-Replayed: "
        "true`) and changes nothing; reusing it for a different request is a 422. Keys are "
        "kept for 24 hours."
    ),
)


def _body_hash(data: Any) -> str:
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _claim(user: Any, key: str, endpoint: str, body_hash: str) -> tuple[Any, Response | None]:
    try:
        with transaction.atomic():
            return IdempotencyRecord.objects.create(
                user=user, key=key, endpoint=endpoint, body_hash=body_hash
            ), None
    except IntegrityError:
        pass
    record = IdempotencyRecord.objects.get(user=user, key=key)
    if record.endpoint != endpoint or record.body_hash != body_hash:
        raise Problem(
            422,
            f"{HEADER} {key!r} was already used for a different request "
            f"({record.endpoint}); use a new key for a new request",
            "idempotency-key-reused",
        )
    if record.status_code is None:
        stale = record.created_at < timezone.now() - ABANDONED_AFTER
        if stale and IdempotencyRecord.objects.filter(
            pk=record.pk, status_code__isnull=True, created_at=record.created_at
        ).update(created_at=timezone.now()):
            return record, None
        raise Problem(
            409,
            f"a request with {HEADER} {key!r} is still in progress; retry in a moment",
            "idempotency-key-in-use",
        )
    headers = {"Idempotent-Replayed": "true"}
    if record.location:
        headers["Location"] = record.location
    return record, Response(record.response, status=record.status_code, headers=headers)


def idempotent(method: Callable[..., Response]) -> Callable[..., Response]:
    """Decorate a viewset action (it runs after authentication, permission and throttle)."""

    @functools.wraps(method)
    def wrapper(view: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
        key = request.headers.get(HEADER)
        if key is None:
            return method(view, request, *args, **kwargs)
        if len(key) > MAX_KEY_LENGTH or not KEY.fullmatch(key):
            raise Problem(400, f"{HEADER} must be 1 to {MAX_KEY_LENGTH} visible ASCII characters")
        endpoint = f"{request.method} {request.path}"[:300]
        record, replay = _claim(request.user, key, endpoint, _body_hash(request.data))
        if replay is not None:
            return replay
        try:
            response = method(view, request, *args, **kwargs)
        except BaseException:
            record.delete()
            raise
        if 200 <= response.status_code < 300:
            record.status_code = response.status_code
            record.response = json.loads(json.dumps(response.data, default=str))
            record.location = response.headers.get("Location", "")[:500]
            record.save(update_fields=["status_code", "response", "location"])
        else:
            record.delete()
        return response

    wrapper.idempotent = True  # type: ignore[attr-defined]
    return wrapper


def prune() -> int:
    """Forget keys older than a day (an hourly beat task)."""
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=timezone.now() - KEEP_FOR).delete()
    return deleted
