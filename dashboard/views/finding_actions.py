"""Actions on findings: acknowledge, suppress, reopen, resolve after review (a change the
admission webhook let through by break-glass), request remediation.

Through htmx, a refusal (a missing reason, a selection that mixes clusters) is written
next to the buttons and nothing else on the page changes: the selection and what was
typed stay. A done action reloads the results as they are filtered, its outcome on top;
a new remediation request opens its page. Without JavaScript, every answer is a redirect
with a message.
"""

from __future__ import annotations

import json

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.formats import date_format
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect

from dashboard.forms.drift import FindingActionForm
from dashboard.views.base import back_to, dashboard, form_errors
from drift.models import Finding
from drift.services import triage
from driftcontrol.exceptions import DomainError, NotAllowed
from driftcontrol.permissions import Action, check
from remediation import services as remediation


class _Refused(DomainError):
    """Why the selected findings cannot be acted on, in words people act on."""


@dashboard
@require_POST
def finding_actions(request: HttpRequest) -> HttpResponse:
    action = request.POST.get("action", "")
    # Refuse a forged action before looking at its data: a viewer gets a 403, not a hint.
    check(
        request.user,
        Action.REQUEST_REMEDIATION if action == "remediate" else Action.TRIAGE_FINDING,
    )
    back = back_to(request, reverse("findings"))
    form = FindingActionForm(request.POST)
    if not form.is_valid():
        return _refused(request, back, form_errors(form))
    try:
        if action == "remediate":
            return _request_remediation(request, form)
        _triage(request, action, form)
    except NotAllowed:
        raise
    except DomainError as refusal:
        return _refused(request, back, str(refusal))
    if request.htmx:
        # The results again, as filtered, with the outcome's messages on top.
        location = {"path": back, "target": "#results", "swap": "outerHTML"}
        return HttpResponse(headers={"HX-Location": json.dumps(location)})
    return redirect(back)


def _triage(request: HttpRequest, action: str, form: FindingActionForm) -> None:
    ids, user, data = form.cleaned_data["finding"], request.user, form.cleaned_data
    if action == "acknowledge":
        _report(request, triage.acknowledge(ids, user, data["comment"]), "Acknowledged")
    elif action == "suppress":
        until = form.suppressed_until()
        outcome = triage.suppress(ids, user, data["reason"], until)
        _report(
            request, outcome, f"Suppressed through {date_format(data['until'], 'DATE_FORMAT')}:"
        )
    elif action == "reopen":
        _report(request, triage.reopen(ids, user), "Reopened")
    elif action == "resolve":
        _report(request, triage.resolve(ids, user, data["comment"]), "Resolved after review")
    else:
        raise _Refused(f"Unknown action {action!r}: choose one of the buttons.")


def _refused(request: HttpRequest, back: str, why: str) -> HttpResponse:
    if not request.htmx:
        messages.error(request, why)
        return redirect(back)
    # Into the bulk bar's feedback slot only: swapping the results would drop the ticks.
    response = render(request, "drift/findings/_refused.html", {"why": why})
    response["HX-Retarget"] = "#bulk-feedback"
    response["HX-Reswap"] = "innerHTML"
    response["HX-Push-Url"] = "false"  # the results' address stays; this POST's is no page
    return response


def _report(request: HttpRequest, outcome: triage.Outcome, done: str) -> None:
    changed = len(outcome.changed)
    if changed:
        noun = "finding" if changed == 1 else "findings"
        messages.success(request, f"{done} {changed} {noun}.")
    if outcome.skipped:
        why = "; ".join(f"#{pk} {reason}" for pk, reason in sorted(outcome.skipped.items()))
        messages.warning(request, f"Left unchanged: {why}.")


def _mixed(findings: list[Finding]) -> str | None:
    """Why these findings cannot be one remediation request, in words people act on."""
    clusters = sorted({f.cluster.name for f in findings})
    policies = sorted({f.policy.name if f.policy else "(no policy)" for f in findings})
    if len(clusters) == 1 and len(policies) == 1:
        return None
    mixes = []
    if len(clusters) > 1:
        mixes.append(f"clusters {', '.join(clusters)}")
    if len(policies) > 1:
        mixes.append(f"policies {', '.join(policies)}")
    return (
        f"The selection mixes {' and '.join(mixes)}. A remediation request covers the findings "
        "of one cluster and one policy: filter the list by cluster and policy, and request "
        "each separately."
    )


def _request_remediation(request: HttpRequest, form: FindingActionForm) -> HttpResponse:
    ids = form.cleaned_data["finding"]
    findings = list(Finding.objects.filter(pk__in=ids).select_related("cluster", "policy"))
    if len(findings) != len(ids):
        raise _Refused("Some of the selected findings no longer exist; select again.")
    mixed = _mixed(findings)
    if mixed:
        raise _Refused(mixed)
    made = remediation.request_remediation(
        findings,
        form.cleaned_data["strategy"],
        request.user,
        form.cleaned_data["request_reason"],
    )
    if made.status == "pending":
        needed = made.approvals_required
        messages.success(
            request,
            f"Remediation request #{made.pk} created: it waits for {needed} "
            f"approval{'s' if needed != 1 else ''}.",
        )
    else:
        messages.success(request, f"Remediation request #{made.pk} needs no approval: it runs now.")
    page = reverse("remediation", kwargs={"pk": made.pk})
    return HttpResponseClientRedirect(page) if request.htmx else redirect(page)
