"""The Account page: what each signed-in person chooses for themselves (their time zone)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from dashboard.forms.account import TimeZoneForm
from driftcontrol import timezones
from driftcontrol.exceptions import DomainError
from driftcontrol.services import preferences


# Every signed-in person, role or not: choosing how one's own pages read needs no role.
@login_required
def account(request: HttpRequest) -> HttpResponse:
    current = preferences.time_zone_of(request.user)
    form = TimeZoneForm(request.POST or None, current=current)
    if request.method == "POST" and form.is_valid():
        chosen = form.cleaned_data["time_zone"]
        try:
            changed = preferences.choose_time_zone(request.user, chosen)
        except DomainError as refusal:
            form.add_error("time_zone", str(refusal))
        else:
            timezones.remember(request, chosen)
            if changed:
                messages.success(
                    request, f"Times are now shown in {chosen or 'the server’s zone'}."
                )
            return redirect("account")
    context = {
        "form": form,
        "now": timezone.now(),
        "zone": timezone.get_current_timezone_name(),
        "server_zone": settings.TIME_ZONE,
    }
    return render(request, "driftcontrol/account.html", context, status=400 if form.errors else 200)
