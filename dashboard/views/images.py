"""The Images page: every distinct image the fleet runs, worst state first, where it runs
and what its lane's supply rules made of it (alignment.api.images counts and groups the
rows, for the API too)."""

from __future__ import annotations

from math import ceil
from typing import Any

from django import forms
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from alignment import rules
from alignment.fleet_images import (
    MAX_SEARCH,
    STATE_WORDS,
    FleetImage,
    fleet_images,
    grouped,
    matching_uses,
)
from alignment.image_uses import STATES
from dashboard.views.base import dashboard
from dashboard.views.paging import CAP, Page
from drift.models import Cluster, Lane
from driftcontrol.api.bounds import MAX_ID, MAX_NAME

PER_PAGE = 25
# Each state's badge colour; the badge says the state in words too.
BADGES = {
    "invalid-signature": "down",
    "source-mismatch": "down",
    "untrusted-signer": "down",
    "unsigned": "down",
    "builder": "warn",
    "no-provenance": "warn",
    "digest": "warn",
    "unverifiable": "info",
    "verified": "ok",
    "no-requirement": "muted",
}


class ImageFilters(forms.Form):
    lane = forms.CharField(required=False, max_length=MAX_NAME)
    cluster = forms.CharField(required=False, max_length=MAX_NAME)
    state = forms.ChoiceField(
        required=False, choices=[("", "Any state"), *((s, STATE_WORDS[s]) for s in STATES)]
    )
    q = forms.CharField(required=False, max_length=MAX_SEARCH, label="Image")

    def wanted(self) -> dict[str, str]:
        """The filters that are valid; a bad one is ignored (and the page says so)."""
        self.is_valid()
        return {name: self.cleaned_data.get(name) or "" for name in self.fields}


@dashboard
def image_list(request: HttpRequest) -> HttpResponse:
    filters = ImageFilters(request.GET)
    wanted = filters.wanted()
    uses = matching_uses(**wanted)
    page = _page(grouped(uses), request.GET.get("page"))
    page.rows = [_row(image) for image in fleet_images(uses, page.rows)]
    context = {
        "page": page,
        "filters": filters,
        "wanted": wanted,
        "filtered": any(wanted.values()),
        "states": [(state, STATE_WORDS[state]) for state in STATES],
        "legend": _legend(),
        "clusters": list(Cluster.objects.order_by("name").values_list("name", flat=True)),
        "lanes": list(Lane.objects.order_by("name").values_list("name", flat=True)),
    }
    return render(request, "alignment/images.html", context)


def _legend() -> list[dict[str, str]]:
    """Each state in words and, when a supply rule's finding stands behind it, the rule."""
    legend = []
    for state in STATES:
        rule = rules.RULES.get(f"supply.{state}")
        legend.append(
            {
                "state": state,
                "words": STATE_WORDS[state],
                "badge": BADGES[state],
                "rule": rule.id if rule else "",
                "title": rule.title if rule else "",
            }
        )
    return legend


def _row(image: FleetImage) -> dict[str, Any]:
    """What a row of the table shows: the image, its badge, and each use's state in words."""
    return {
        "image": image,
        "badge": BADGES.get(image.state, "muted"),
        "uses": [(use, STATE_WORDS.get(use.state, use.state)) for use in image.uses],
        # A builder id is a long URL with no space: the template lets it wrap at its slashes.
        "builder": str(image.detail.get("builder") or "").split("/"),
    }


def _page(rows: QuerySet[Any], number: Any) -> Page:
    """One page of grouped rows, counted as dashboard.views.paging counts (at most CAP + 1):
    its paginate() counts primary keys, which a grouped query has none of."""
    try:
        wanted = max(1, int(number))
    except (TypeError, ValueError):
        wanted = 1
    wanted = min(wanted, MAX_ID // PER_PAGE)
    counted = rows.order_by()[: CAP + 1].count()
    if counted <= CAP:
        wanted = min(wanted, max(1, ceil(counted / PER_PAGE)))
    offset = (wanted - 1) * PER_PAGE
    found = list(rows[offset : offset + PER_PAGE + 1])
    return Page(found[:PER_PAGE], wanted, PER_PAGE, counted, has_next=len(found) > PER_PAGE)
