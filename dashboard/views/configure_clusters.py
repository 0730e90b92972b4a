"""Adding and changing clusters in the browser (admins), and testing a kubeconfig's
connection and rights before it is saved. The form becomes a Cluster document that
`drift.services.editing` saves the way `drift apply` and the API do."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from dashboard.forms.configure_clusters import ClusterForm
from dashboard.views.base import dashboard
from drift.models import Cluster
from drift.services import access
from driftcontrol.permissions import Action, check


@dashboard
def cluster_new(request: HttpRequest) -> HttpResponse:
    check(request.user, Action.MANAGE_CONFIG)
    return _edit(request, None)


@dashboard
def cluster_edit(request: HttpRequest, name: str) -> HttpResponse:
    check(request.user, Action.MANAGE_CONFIG)
    return _edit(request, _cluster(name))


@dashboard
@require_POST
def connection_test(request: HttpRequest) -> HttpResponse:
    """The form's kubeconfig (or the stored one) tried against its server: a panel for
    htmx, the whole form page with the panel in it otherwise."""
    check(request.user, Action.MANAGE_CONFIG)
    editing_name = request.POST.get("editing", "")
    cluster = _cluster(editing_name) if editing_name else None
    form = ClusterForm(request.POST, request.FILES, cluster=cluster)
    form.is_valid()  # what is valid is used; the rest is the test's business, not a save's
    problem = form.kubeconfig_problem()
    report = (
        access.AccessReport(problem=f"The kubeconfig {problem}")
        if problem
        else access.check(
            form.kubeconfig_to_test(),
            form.cleaned_data.get("context", ""),
            form.object_name(),
            form.cleaned_data.get("labels"),
        )
    )
    if getattr(request, "htmx", False):
        return render(request, "drift/clusters/_connection.html", {"report": report})
    return _page(request, form, cluster, report)


def _edit(request: HttpRequest, cluster: Cluster | None) -> HttpResponse:
    if request.method != "POST":
        return _page(request, ClusterForm(cluster=cluster), cluster)
    form = ClusterForm(request.POST, request.FILES, cluster=cluster)
    name = cluster.name if cluster else None
    applied = form.save_document(form.document(), request.user, name) if form.is_valid() else None
    if applied:
        messages.success(request, f"Cluster {applied.name} is {applied.action}.")
        return redirect("cluster", applied.name)
    return _page(request, form, cluster, status=400)


def _cluster(name: str) -> Cluster:
    return get_object_or_404(Cluster.objects.prefetch_related("lanes"), name=name)


def _page(
    request: HttpRequest,
    form: ClusterForm,
    cluster: Cluster | None,
    report: access.AccessReport | None = None,
    status: int = 200,
) -> HttpResponse:
    context = {"form": form, "cluster": cluster, "report": report}
    return render(request, "drift/clusters/form.html", context, status=status)
