"""The drift resources as (prefix, viewset) pairs and plain views, for the API's router."""

from __future__ import annotations

from typing import Any

from django.urls import path

from drift.api.configuration import ClusterViewSet, GitSourceViewSet, LaneViewSet, PolicyViewSet
from drift.api.findings import FindingViewSet
from drift.api.scans import ScanViewSet
from drift.api.summaries import SummaryView, TrendView

VIEWSETS: list[tuple[str, Any, str]] = [
    ("lanes", LaneViewSet, "lane"),
    ("clusters", ClusterViewSet, "cluster"),
    ("sources", GitSourceViewSet, "source"),
    ("policies", PolicyViewSet, "policy"),
    ("scans", ScanViewSet, "scan"),
    ("findings", FindingViewSet, "finding"),
]

VIEWS = [
    path("summary/", SummaryView.as_view(), name="summary"),
    path("trends/", TrendView.as_view(), name="trends"),
]
