"""Adding and editing Git sources in the browser (admins), and a test fetch of what is
typed before it is saved. Saving goes through the same validation as `drift apply`."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_POST

from dashboard.forms.configure_sources import FetchTrialForm, SourceForm
from dashboard.views.base import dashboard
from drift.models import GitSource
from drift.services import sources
from driftcontrol.permissions import Action, check


@dashboard
def source_new(request: HttpRequest) -> HttpResponse:
    check(request.user, Action.MANAGE_CONFIG)
    form = SourceForm(request.POST or None, initial={"ref": "main"})
    if request.method == "POST" and form.is_valid():
        document = _document(form, form.cleaned_data["name"])
        if form.save_document(document, request.user, None):
            messages.success(request, f"Git source {form.cleaned_data['name']} is added.")
            return redirect("sources")
    return _page(request, form, None)


@dashboard
def source_edit(request: HttpRequest, name: str) -> HttpResponse:
    check(request.user, Action.MANAGE_CONFIG)
    source = get_object_or_404(GitSource, name=name)
    form = SourceForm(request.POST or None, initial=_initial(source), source=source)
    posted = request.method == "POST" and form.is_valid()
    if posted and form.save_document(_document(form, name), request.user, name):
        messages.success(request, f"Git source {name} is saved.")
        return redirect("sources")
    return _page(request, form, source)


@dashboard
@require_POST
def source_test_fetch(request: HttpRequest) -> HttpResponse:
    """What the typed URL, ref and path hold: a fragment for the form's result panel, or,
    without htmx, the form again with the result and everything typed."""
    check(request.user, Action.MANAGE_CONFIG)
    typed = FetchTrialForm(request.POST)
    trial = sources.try_fetch(**typed.cleaned_data) if typed.is_valid() else None
    context: dict[str, Any] = {"trial": trial, "typed": typed}
    if request.htmx and not request.htmx.history_restore_request:  # see finding_list
        response = render(request, "drift/sources/_test_fetch.html", context)
    else:
        editing_name = request.POST.get("editing", "")
        source = get_object_or_404(GitSource, name=editing_name) if editing_name else None
        # Unbound, with what was typed: a test fetch is not a save, so no field errors.
        typed_in = {**(_initial(source) if source else {}), **request.POST.dict()}
        form = SourceForm(initial=typed_in, source=source)
        response = _page(request, form, source, context)
    patch_vary_headers(response, ("HX-Request",))  # see finding_list
    return response


def _document(form: SourceForm, name: str) -> dict[str, Any]:
    data = form.cleaned_data
    return sources.document(name, data["url"], data["ref"], data["path"], form.new_secret())


def _initial(source: GitSource) -> dict[str, Any]:
    return {
        "name": source.name,
        "url": source.url,
        "ref": source.ref,
        "path": source.path,
        "editing": source.name,
    }


def _page(
    request: HttpRequest,
    form: SourceForm,
    source: GitSource | None,
    extra: dict[str, Any] | None = None,
) -> HttpResponse:
    # A refused save keeps what was typed and says so with 400, as the API would; all but
    # the secret, which is never written back into a page.
    refused = form.is_bound and bool(form.errors)
    context = {
        "form": form,
        "source": source,
        "trial": None,
        "typed": None,
        "secret_dropped": refused and bool(request.POST.get("hook_secret")),
        **(extra or {}),
    }
    status = 400 if refused else 200
    return render(request, "drift/sources/form.html", context, status=status)
