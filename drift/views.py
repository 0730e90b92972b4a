"""The Git push hook endpoint: a push to a Git source queues scans of its policies.

It answers in the API's error shape. Every refusal of the sender is the same 403, so
the hook does not tell anyone which source names exist; the body is bounded before it
is read, since it is read before the sender is known.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from drift.services import hooks
from driftcontrol.api.errors import problem_body, too_large
from driftcontrol.exceptions import NotAllowed


def _refused(status: int, detail: str) -> JsonResponse:
    return JsonResponse(problem_body(status, detail), status=status)


@csrf_exempt  # authenticated by the shared secret, not a browser session
@require_POST
def git_push(request: HttpRequest, source: str) -> JsonResponse:
    limit = settings.GIT_HOOK_BODY_MAX_BYTES
    declared = request.META.get("CONTENT_LENGTH") or "0"
    if not declared.isascii() or not declared.isdigit():
        return _refused(400, "the Content-Length header is not a number")
    if len(declared) > 18 or int(declared) > limit:
        return _refused(413, too_large(limit))
    # read(), not .body: the hook's limit is its own, not DATA_UPLOAD_MAX_MEMORY_SIZE.
    body = request.read(limit + 1)
    if len(body) > limit:
        return _refused(413, too_large(limit))
    try:
        found = hooks.authenticate(
            source,
            body,
            request.headers.get("X-DriftControl-Token") or request.headers.get("X-Gitlab-Token"),
            request.headers.get("X-Hub-Signature-256"),
        )
    except NotAllowed as refusal:
        return _refused(403, str(refusal))
    scans = hooks.received(found)
    return JsonResponse({"source": found.name, "scans": [s.pk for s in scans]}, status=202)
