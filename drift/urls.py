from django.urls import path

from drift.views import clusters, finding, findings, hooks, overview, policies, scans, trends

urlpatterns = [
    path("hooks/git/<slug:source>", hooks.git_push, name="git-push-hook"),
    path("", overview.overview, name="home"),
    path("findings/", findings.finding_list, name="findings"),
    path("findings/actions", findings.finding_actions, name="finding-actions"),
    path("findings/<int:pk>/", finding.finding_detail, name="finding"),
    path("findings/<int:pk>/ticket", finding.link_ticket, name="finding-ticket"),
    path("clusters/", clusters.cluster_list, name="clusters"),
    path("clusters/<slug:name>/", clusters.cluster_detail, name="cluster"),
    path("lanes/", clusters.lane_list, name="lanes"),
    path("policies/", policies.policy_list, name="policies"),
    path("policies/<slug:name>/", policies.policy_detail, name="policy"),
    path("policies/<slug:name>/preview", policies.policy_preview, name="policy-preview"),
    path("scans/", scans.scan_list, name="scans"),
    path("scans/request", scans.request_scan, name="scan-request"),
    path("scans/<int:pk>/", scans.scan_detail, name="scan"),
    path("scans/<int:pk>/progress", scans.scan_progress, name="scan-progress"),
    path("trends/", trends.trends, name="trends"),
]
