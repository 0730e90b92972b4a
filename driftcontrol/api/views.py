"""Small views of the API itself: the JSON 404 for unknown /api/ paths."""

from __future__ import annotations

import json

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt


@csrf_exempt  # a 404 is the answer whatever the method; CSRF would turn it into an HTML 403
def not_found(request: HttpRequest) -> HttpResponse:
    body = {
        "type": "not-found",
        "title": "Not found",
        "status": 404,
        "detail": f"no API endpoint at {request.path}; see /api/docs/",
    }
    return HttpResponse(json.dumps(body), status=404, content_type="application/json")
