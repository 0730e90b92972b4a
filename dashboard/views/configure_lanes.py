"""Adding and changing lanes in the browser (admins). A lane's clusters are not chosen
here: a cluster names its lanes (`spec.lanes` of its document), on the cluster's form."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from dashboard.forms.configure_clusters import LaneForm
from dashboard.views.base import dashboard
from drift.models import Lane
from driftcontrol.permissions import Action, check


@dashboard
def lane_new(request: HttpRequest) -> HttpResponse:
    check(request.user, Action.MANAGE_CONFIG)
    return _edit(request, None)


@dashboard
def lane_edit(request: HttpRequest, name: str) -> HttpResponse:
    check(request.user, Action.MANAGE_CONFIG)
    return _edit(request, get_object_or_404(Lane.objects.prefetch_related("clusters"), name=name))


def _edit(request: HttpRequest, lane: Lane | None) -> HttpResponse:
    if request.method != "POST":
        return _page(request, LaneForm(lane=lane), lane)
    form = LaneForm(request.POST, lane=lane)
    name = lane.name if lane else None
    applied = form.save_document(form.document(), request.user, name) if form.is_valid() else None
    if applied:
        messages.success(request, f"Lane {applied.name} is {applied.action}.")
        return redirect("lanes")
    return _page(request, form, lane, status=400)


def _page(
    request: HttpRequest, form: LaneForm, lane: Lane | None, status: int = 200
) -> HttpResponse:
    clusters = list(lane.clusters.all()) if lane is not None else []
    context = {"form": form, "lane": lane, "clusters": clusters}
    return render(request, "drift/clusters/lane_form.html", context, status=status)
