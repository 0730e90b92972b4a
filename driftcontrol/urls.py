from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from driftcontrol import views
from driftcontrol.views import tokens, webhooks

admin.site.site_header = "DriftControl administration"
admin.site.site_title = "DriftControl admin"

urlpatterns = [
    path("system/", views.system_status, name="system-status"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("tokens/", tokens.token_list, name="tokens"),
    path("tokens/<int:pk>/revoke", tokens.token_revoke, name="token-revoke"),
    path("webhooks/", webhooks.subscription_list, name="webhooks"),
    path("webhooks/<int:pk>/", webhooks.subscription_detail, name="webhook"),
    path("webhooks/<int:pk>/delete", webhooks.subscription_delete, name="webhook-delete"),
    path(
        "webhooks/<int:pk>/deliveries/<uuid:delivery>/redeliver",
        webhooks.redeliver,
        name="webhook-redeliver",
    ),
    path("api/", include("driftcontrol.api.urls")),
    # The dashboard: "/" is the overview (drift.urls names it "home").
    path("", include("drift.urls")),
    path("", include("remediation.urls")),
]

handler403 = "driftcontrol.views.forbidden"
handler404 = "driftcontrol.views.not_found"
handler500 = "driftcontrol.views.server_error"
