"""The root URLconf: it composes the apps by name (strings), so the core imports none."""

from django.contrib import admin
from django.urls import include, path

from driftcontrol import probes, security
from driftcontrol.login import AdminLoginForm

admin.site.site_header = "DriftControl administration"
admin.site.site_title = "DriftControl admin"
admin.site.login_form = AdminLoginForm  # the dashboard's lockout guards the admin too

urlpatterns = [
    path("healthz", probes.healthz, name="healthz"),
    path("readyz", probes.readyz, name="readyz"),
    path("csp-report", security.csp_report, name="csp-report"),
    path("favicon.ico", security.favicon),
    path("admin/", admin.site.urls),
    path("api/", include("driftcontrol.api.urls")),
    path("", include("drift.urls")),
    path("", include("alignment.urls")),
    path("", include("dashboard.urls")),
]

# JSON under /api/, the pages' own elsewhere.
handler400 = "driftcontrol.api.views.bad_request"
handler403 = "dashboard.views.errors.forbidden"
handler404 = "dashboard.views.errors.not_found"
handler500 = "dashboard.views.errors.server_error"
