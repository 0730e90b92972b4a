"""Adding and editing policies in the browser (admins): a YAML editor that validates the
document as `drift apply` does, shows what the policy would find right now (a dry run,
nothing saved), and saves it through the same validation.

"Dry run" is not the policy page's "Preview enforce mode" (what enforcing would have
remediated, from the ledger): it compares Git with the clusters now, for a document that
may not be saved yet.
"""

from __future__ import annotations

from typing import Any

import yaml
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_POST

from dashboard.forms.configure_policies import PolicyDocumentForm
from dashboard.views import present
from dashboard.views.base import dashboard
from drift.declarative import export
from drift.models import DriftPolicy
from drift.services import dry_run, policy_documents
from driftcontrol.exceptions import FieldProblem, Invalid
from driftcontrol.permissions import Action, check


@dashboard
def policy_new(request: HttpRequest) -> HttpResponse:
    check(request.user, Action.MANAGE_CONFIG)
    form = PolicyDocumentForm(
        request.POST or None, initial={"document": policy_documents.template()}
    )
    problems: list[FieldProblem] = []
    if request.method == "POST" and form.is_valid():
        try:
            applied = policy_documents.create(form.cleaned_data["document"], request.user)
        except Invalid as invalid:
            problems = invalid.problems
        else:
            messages.success(request, f"Policy {applied.name} is added.")
            return redirect("policy", applied.name)
    return _editor(request, form, None, {"problems": problems})


@dashboard
def policy_edit(request: HttpRequest, name: str) -> HttpResponse:
    check(request.user, Action.MANAGE_CONFIG)
    policy = get_object_or_404(DriftPolicy.objects.select_related("source"), name=name)
    # The text the policy page shows, so that an edit starts from what is stored.
    text = yaml.safe_dump(export.policy(policy), sort_keys=False, default_flow_style=False)
    form = PolicyDocumentForm(request.POST or None, initial={"document": text, "editing": name})
    problems: list[FieldProblem] = []
    if request.method == "POST" and form.is_valid():
        try:
            applied = policy_documents.update(form.cleaned_data["document"], request.user, name)
        except Invalid as invalid:
            problems = invalid.problems
        else:
            changed = "saved" if applied.action == "updated" else "unchanged: nothing differed"
            messages.success(request, f"Policy {name} is {changed}.")
            return redirect("policy", name)
    return _editor(request, form, policy, {"problems": problems})


@dashboard
@require_POST
def policy_validate(request: HttpRequest) -> HttpResponse:
    """Every problem of the typed document, as `drift apply` would list them."""
    check(request.user, Action.MANAGE_CONFIG)
    form, policy = _typed(request)
    problems: list[FieldProblem] = []
    if form.is_valid():
        try:
            policy_documents.check(form.cleaned_data["document"], _fixed_name(policy))
        except Invalid as invalid:
            problems = invalid.problems
    context = {"checked": form.is_valid(), "problems": problems}
    return _answer(request, form, policy, "drift/policies/_validation.html", context)


@dashboard
@require_POST
def policy_dry_run(request: HttpRequest) -> HttpResponse:
    """What the typed document finds on its clusters now; nothing is saved."""
    check(request.user, Action.MANAGE_CONFIG)
    form, policy = _typed(request)
    result, problems = None, []
    if form.is_valid():
        try:
            document = policy_documents.read(form.cleaned_data["document"], _fixed_name(policy))
            result = dry_run.dry_run(document)
        except Invalid as invalid:
            problems = invalid.problems
    clusters = [
        {"run": found, "counts": present.severity_list(found.counts)}
        for found in (result.clusters if result else [])
    ]
    context = {"dry_run": result, "clusters": clusters, "problems": problems}
    return _answer(request, form, policy, "drift/policies/_dry_run.html", context)


def _typed(request: HttpRequest) -> tuple[PolicyDocumentForm, DriftPolicy | None]:
    """The posted editor, and the policy it edits (None for a new one)."""
    form = PolicyDocumentForm(request.POST)
    editing = request.POST.get("editing", "")
    policy = get_object_or_404(DriftPolicy, name=editing) if editing else None
    return form, policy


def _fixed_name(policy: DriftPolicy | None) -> str | None:
    return policy.name if policy is not None else None


def _answer(
    request: HttpRequest,
    form: PolicyDocumentForm,
    policy: DriftPolicy | None,
    fragment: str,
    context: dict[str, Any],
) -> HttpResponse:
    """The result panel for htmx; without it, the editor again with the result in it."""
    if request.htmx and not request.htmx.history_restore_request:  # see finding_list
        response = render(request, fragment, {"form": form, **context})
    else:
        response = _editor(request, form, policy, {"panel": fragment, **context})
    patch_vary_headers(response, ("HX-Request",))  # see finding_list
    return response


def _editor(
    request: HttpRequest,
    form: PolicyDocumentForm,
    policy: DriftPolicy | None,
    extra: dict[str, Any],
) -> HttpResponse:
    context = {
        "form": form,
        "policy": policy,
        "problems": [],
        "panel": "",
        "checked": False,
        "dry_run": None,
        "clusters": [],
        **extra,
    }
    # A refused save keeps the text and says so with 400; a validation or a dry run that
    # found problems is an answer to the question asked, so it is a 200.
    refused = request.method == "POST" and "panel" not in extra and bool(context["problems"])
    status = 400 if refused or (form.is_bound and form.errors) else 200
    return render(request, "drift/policies/editor.html", context, status=status)
