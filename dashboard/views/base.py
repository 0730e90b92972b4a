"""What every dashboard view shares: the sign-in and role gate, safe redirects, and how
domain refusals of a form become messages."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import resolve_url
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django_htmx.http import HttpResponseClientRedirect

from driftcontrol.exceptions import DomainError, NotAllowed
from driftcontrol.permissions import Action, check

View = Callable[..., HttpResponse]


def dashboard(view: View) -> View:
    """Signed in and holding a role: anonymous people go to the login page, people without
    a role get the 403 page that says why (NotAllowed, rendered by the middleware)."""

    @wraps(view)
    def gated(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        check(request.user, Action.VIEW)
        return view(request, *args, **kwargs)

    signed_in = login_required(gated)

    @wraps(view)
    def entry(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        htmx = getattr(request, "htmx", None)
        if htmx and not request.user.is_authenticated:
            # A fragment polled after the session ended would swap the login page into a
            # progress bar: send the whole page to sign in instead.
            page = htmx.current_url_abs_path or "/"
            login = resolve_url(settings.LOGIN_URL)
            return HttpResponseClientRedirect(f"{login}?{urlencode({'next': page})}")
        return signed_in(request, *args, **kwargs)

    return entry


def back_to(request: HttpRequest, default: str) -> str:
    """Where a form action returns: its `next` field when it stays on this site."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


@contextmanager
def refusals_as_messages(request: HttpRequest) -> Iterator[None]:
    """A refusal the user can act on (wrong state, a missing reason, a cluster that cannot
    be planned) becomes an error message on the page they return to. NotAllowed stays a
    403: a button the user was never shown was forged or stale, and deserves no less."""
    try:
        yield
    except NotAllowed:
        raise
    except DomainError as refusal:
        messages.error(request, str(refusal))


def form_errors(form: Any) -> str:
    """A form's errors as one sentence for a message."""
    parts = []
    for field, errors in form.errors.items():
        label = form.fields[field].label if field in form.fields else ""
        text = " ".join(str(e) for e in errors)
        parts.append(f"{label}: {text}" if label else text)
    return " ".join(parts)
