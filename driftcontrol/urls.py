from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from driftcontrol import views

admin.site.site_header = "DriftControl administration"
admin.site.site_title = "DriftControl admin"

urlpatterns = [
    path("system/", views.system_status, name="system-status"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("api/", include("driftcontrol.api.urls")),
    # The dashboard: "/" is the overview (drift.urls names it "home").
    path("", include("drift.urls")),
    path("", include("remediation.urls")),
]

handler403 = "driftcontrol.views.forbidden"
handler404 = "driftcontrol.views.not_found"
handler500 = "driftcontrol.views.server_error"
