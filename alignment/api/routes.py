"""The alignment resources for the API's router: the rules and where each stands, and the
images the fleet runs."""

from __future__ import annotations

from django.urls import path

from alignment.api.images import ImageListView
from alignment.api.rules import RuleListView, RuleView

VIEWS = [
    path("alignment/rules/", RuleListView.as_view(), name="alignment-rule-list"),
    path("alignment/rules/<str:rule_id>/", RuleView.as_view(), name="alignment-rule-detail"),
    path("images/", ImageListView.as_view(), name="image-list"),
]
