from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from drift.services import health
from driftcontrol.permissions import Action, check
from driftcontrol.services import system_status as status


@login_required
def system_status(request: HttpRequest) -> HttpResponse:
    check(request.user, Action.VIEW)
    context = {"report": status.collect(), "clusters": list(health.fleet().values())}
    return render(request, "driftcontrol/system_status.html", context)
