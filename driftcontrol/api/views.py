"""Small views of the API itself: the JSON 404 for unknown /api/ paths, the ReDoc page."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.template import engines
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularRedocView


@csrf_exempt  # a 404 is the answer whatever the method; CSRF would turn it into an HTML 403
def not_found(request: HttpRequest) -> HttpResponse:
    body = {
        "type": "not-found",
        "title": "Not found",
        "status": 404,
        "detail": f"no API endpoint at {request.path}; see /api/docs/",
    }
    return HttpResponse(json.dumps(body), status=404, content_type="application/json")


# drf-spectacular's ReDoc page loads Google's fonts; this one serves everything itself
# (the sidecar's redoc.standalone.js, system fonts).
_REDOC_PAGE = """<!DOCTYPE html>
<html>
  <head>
    <title>{{ title|default:"DriftControl API" }}</title>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <style>body { margin: 0; padding: 0; }</style>
  </head>
  <body>
    <redoc spec-url="{{ schema_url }}"></redoc>
    <script src="{{ redoc_standalone }}"></script>
  </body>
</html>"""


class RedocView(SpectacularRedocView):
    page = engines["django"].from_string(_REDOC_PAGE)

    @extend_schema(exclude=True)
    def get(self, request: Any, *args: Any, **kwargs: Any) -> HttpResponse:
        context = super().get(request, *args, **kwargs).data
        return HttpResponse(self.page.render(context, request))
