"""API tokens in the browser: list, create (shown once), revoke."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from driftcontrol import tokens
from driftcontrol.exceptions import DomainError
from driftcontrol.models import TokenScope
from driftcontrol.permissions import Action, check

LIFETIMES = {"7": 7, "30": 30, "90": 90, "180": 180, "365": 365}


def _page(request: HttpRequest, created: str = "", status: int = 200) -> HttpResponse:
    widest = tokens.widest_scope(request.user)
    order = list(TokenScope)
    allowed = order[: order.index(TokenScope(widest)) + 1] if widest else []
    rows = tokens.visible_to(request.user).order_by("-created_at")[:200]
    return render(
        request,
        "driftcontrol/tokens.html",
        {
            "tokens": rows,
            "scopes": allowed,
            "lifetimes": LIFETIMES,
            "created": created,
            "form": request.POST if request.method == "POST" else {},
        },
        status=status,
    )


@login_required
def token_list(request: HttpRequest) -> HttpResponse:
    check(request.user, Action.MANAGE_OWN_TOKENS)
    if request.method != "POST":
        return _page(request)
    days = LIFETIMES.get(request.POST.get("lifetime", "90"))
    try:
        _, raw = tokens.create(
            request.user,
            request.POST.get("name", ""),
            request.POST.get("scope", ""),
            timedelta(days=days) if days else tokens.DEFAULT_LIFETIME,
            actor=request.user,
        )
    except DomainError as refusal:
        messages.error(request, str(refusal))
        return _page(request, status=400)
    # Rendered, not redirected: the token must never be stored, not even in the session.
    return _page(request, created=raw)


@login_required
@require_POST
def token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    token = tokens.revoke(pk, request.user)
    messages.success(request, f"Token {token.name} ({token.prefix}…) is revoked.")
    return redirect("tokens")
