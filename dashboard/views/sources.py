"""Git sources: where each policy reads its desired state, and how the last fetch went."""

from __future__ import annotations

from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from dashboard.views.base import dashboard
from drift import git
from drift.models import DriftPolicy, GitSource


@dashboard
def source_list(request: HttpRequest) -> HttpResponse:
    using = Prefetch("policies", queryset=DriftPolicy.objects.only("name", "source_id"))
    rows = [
        # Every viewer sees this page: a token in a URL is for git, not for them.
        {"source": source, "url": git.redact(source.url), "policies": source.policies.all()}
        for source in GitSource.objects.prefetch_related(using).order_by("name")
    ]
    return render(request, "drift/sources/list.html", {"rows": rows})
