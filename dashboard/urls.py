"""Every page of the dashboard. "/" is the overview ("home")."""

from django.contrib.auth import views as auth_views
from django.urls import path

from dashboard.views import (
    account,
    admission,
    alignment,
    clusters,
    configure_clusters,
    configure_lanes,
    configure_policies,
    configure_sources,
    exports,
    finding,
    finding_actions,
    findings,
    images,
    overview,
    policies,
    remediations,
    scans,
    sources,
    system,
    tokens,
    trends,
    webhooks,
)
from driftcontrol.login import LoginForm

urlpatterns = [
    path("", overview.overview, name="home"),
    path(
        "login/",
        auth_views.LoginView.as_view(
            authentication_form=LoginForm, redirect_authenticated_user=True
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    # Account
    path("account/", account.account, name="account"),
    # Detection
    path("findings/", findings.finding_list, name="findings"),
    path("findings/export.csv", exports.findings_csv, name="findings-csv"),
    path("findings/actions", finding_actions.finding_actions, name="finding-actions"),
    path("findings/<int:pk>/", finding.finding_detail, name="finding"),
    path("alignment/", alignment.alignment_rules, name="alignment"),
    path("images/", images.image_list, name="images"),
    path("admission/", admission.admission, name="admission"),
    path("findings/<int:pk>/ticket", finding.link_ticket, name="finding-ticket"),
    path("clusters/", clusters.cluster_list, name="clusters"),
    # Configuration: clusters and lanes
    path("clusters/new", configure_clusters.cluster_new, name="cluster-new"),
    path(
        "clusters/connection-test",
        configure_clusters.connection_test,
        name="cluster-connection-test",
    ),
    path("clusters/<slug:name>/edit", configure_clusters.cluster_edit, name="cluster-edit"),
    path("lanes/new", configure_lanes.lane_new, name="lane-new"),
    path("lanes/<slug:name>/edit", configure_lanes.lane_edit, name="lane-edit"),
    path("clusters/<slug:name>/", clusters.cluster_detail, name="cluster"),
    path("lanes/", clusters.lane_list, name="lanes"),
    path("policies/", policies.policy_list, name="policies"),
    # Configuration: sources and policies
    path("sources/", sources.source_list, name="sources"),
    path("sources/new", configure_sources.source_new, name="source-new"),
    path("sources/test-fetch", configure_sources.source_test_fetch, name="source-test-fetch"),
    path("sources/<slug:name>/edit", configure_sources.source_edit, name="source-edit"),
    path("policies/new", configure_policies.policy_new, name="policy-new"),
    path("policies/validate", configure_policies.policy_validate, name="policy-validate"),
    path("policies/dry-run", configure_policies.policy_dry_run, name="policy-dry-run"),
    path("policies/<slug:name>/edit", configure_policies.policy_edit, name="policy-edit"),
    path("policies/<slug:name>/", policies.policy_detail, name="policy"),
    path("policies/<slug:name>/preview", policies.policy_preview, name="policy-preview"),
    path("scans/", scans.scan_list, name="scans"),
    path("scans/request", scans.request_scan, name="scan-request"),
    path("scans/<int:pk>/", scans.scan_detail, name="scan"),
    path("scans/<int:pk>/progress", scans.scan_progress, name="scan-progress"),
    path("trends/", trends.trends, name="trends"),
    path("trends/export.csv", exports.trends_csv, name="trends-csv"),
    # Remediation
    path("approvals/", remediations.approval_queue, name="approvals"),
    path("remediations/", remediations.request_list, name="remediations"),
    path("remediations/<int:pk>/", remediations.request_detail, name="remediation"),
    path("remediations/<int:pk>/status", remediations.request_status, name="remediation-status"),
    path("remediations/<int:pk>/approve", remediations.approve, name="remediation-approve"),
    path("remediations/<int:pk>/reject", remediations.reject, name="remediation-reject"),
    path("remediations/<int:pk>/cancel", remediations.cancel, name="remediation-cancel"),
    # The control plane itself
    path("system/", system.system_status, name="system-status"),
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
    path("webhooks/<int:pk>/ping", webhooks.ping, name="webhook-ping"),
    path("webhooks/<int:pk>/rotate-secret", webhooks.rotate_secret, name="webhook-rotate"),
    path(
        "webhooks/<int:pk>/deliveries/<uuid:delivery>/",
        webhooks.delivery_detail,
        name="webhook-delivery",
    ),
]
