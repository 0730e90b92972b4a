"""The Git push hook endpoint: a push to a Git source queues scans of its policies."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from drift.models import GitSource
from drift.services import hooks
from driftcontrol.exceptions import NotAllowed


@csrf_exempt  # authenticated by the shared secret, not a browser session
@require_POST
def git_push(request: HttpRequest, source: str) -> JsonResponse:
    found = GitSource.objects.filter(name=source).first()
    if found is None:
        return JsonResponse(
            {
                "type": "not-found",
                "title": "Not found",
                "detail": f"no Git source named {source!r}",
            },
            status=404,
        )
    try:
        hooks.verify(
            found,
            request.body,
            request.headers.get("X-DriftControl-Token") or request.headers.get("X-Gitlab-Token"),
            request.headers.get("X-Hub-Signature-256"),
        )
    except NotAllowed as refusal:
        return JsonResponse(
            {"type": "forbidden", "title": "Forbidden", "detail": str(refusal)}, status=403
        )
    scans = hooks.received(found)
    return JsonResponse({"source": found.name, "scans": [s.pk for s in scans]}, status=202)
