"""The REST API (/api/v1/): authentication, errors, pagination, schema, and the core
resources (tokens, webhooks, audit events); each installed app adds its own from its
`api/routes.py` (see driftcontrol.extensions)."""

from __future__ import annotations

from typing import Any

from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import SimpleRouter

from driftcontrol.api.audit import AuditEventViewSet
from driftcontrol.api.me import MeView
from driftcontrol.api.tokens import TokenViewSet
from driftcontrol.api.views import not_found
from driftcontrol.api.webhook_events import WebhookEventViewSet
from driftcontrol.api.webhooks import DeliveryViewSet, SubscriptionViewSet
from driftcontrol.extensions import app_modules

APP_ROUTES = app_modules("api.routes")

VIEWSETS: list[tuple[str, Any, str]] = [
    ("tokens", TokenViewSet, "token"),
    ("webhooks", SubscriptionViewSet, "webhook"),
    ("webhook-deliveries", DeliveryViewSet, "webhook-delivery"),
    ("webhook-events", WebhookEventViewSet, "webhook-event"),
    ("audit-events", AuditEventViewSet, "audit-event"),
    *(entry for routes in APP_ROUTES for entry in getattr(routes, "VIEWSETS", [])),
]

router = SimpleRouter()
for prefix, viewset, basename in VIEWSETS:
    router.register(prefix, viewset, basename=basename)

v1 = [
    path("me/", MeView.as_view(), name="me"),
    *(view for routes in APP_ROUTES for view in getattr(routes, "VIEWS", [])),
    *router.urls,
]

app_name = "api"
urlpatterns = [
    path("v1/", include(v1)),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # Swagger UI with its start-up script as a file of its own (docs/?script): the
    # Content-Security-Policy allows no inline script.
    path(
        "docs/",
        SpectacularSwaggerSplitView.as_view(
            url_name="api:schema", template_name="api/swagger_ui.html"
        ),
        name="docs",
    ),
    # Anything else under /api/ answers in the API's error format, not with an HTML page.
    re_path(r"^.*$", not_found, name="not-found"),
]
