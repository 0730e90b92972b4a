"""The alignment resources for the API's router: the rules and where each stands, the
images the fleet runs, and what the admission webhook decided."""

from __future__ import annotations

from typing import Any

from django.urls import path

from alignment.api.admission import AdmissionDecisionViewSet, AdmissionSummaryView
from alignment.api.images import ImageListView
from alignment.api.rules import RuleListView, RuleView

VIEWSETS: list[tuple[str, Any, str]] = [
    ("admission/decisions", AdmissionDecisionViewSet, "admission-decision"),
]

VIEWS = [
    path("alignment/rules/", RuleListView.as_view(), name="alignment-rule-list"),
    path("alignment/rules/<str:rule_id>/", RuleView.as_view(), name="alignment-rule-detail"),
    path("images/", ImageListView.as_view(), name="image-list"),
    path("admission/summary/", AdmissionSummaryView.as_view(), name="admission-summary"),
]
