"""Webhook subscriptions in the browser (admins): subscribe, change, delete, see every
delivery and send one again."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from driftcontrol import webhooks
from driftcontrol.models import DeliveryStatus, WebhookSubscription
from driftcontrol.permissions import Action, check


def _fields(request: HttpRequest) -> dict[str, Any]:
    chosen = request.POST.getlist("event_types")
    return {
        "name": request.POST.get("name", "").strip(),
        "url": request.POST.get("url", "").strip(),
        "event_types": [webhooks.ALL_EVENTS] if webhooks.ALL_EVENTS in chosen else chosen,
        "active": request.POST.get("active") == "on",
        "description": request.POST.get("description", "").strip(),
    }


def _refusal(request: HttpRequest, refusal: webhooks.InvalidSubscription) -> None:
    for field, problems in refusal.field_errors.items():
        for problem in problems:
            messages.error(request, f"{field}: {problem}")


@login_required
def subscription_list(request: HttpRequest) -> HttpResponse:
    check(request.user, Action.MANAGE_WEBHOOKS)
    secret = ""
    status = 200
    if request.method == "POST":
        try:
            created, secret = webhooks.subscribe(request.user, **_fields(request))
            messages.success(
                request, f"Subscribed {created.name}. Copy its secret now: it is shown once."
            )
        except webhooks.InvalidSubscription as refusal:
            _refusal(request, refusal)
            status = 400
    rows = WebhookSubscription.objects.annotate(
        delivered=Count("deliveries", filter=Q(deliveries__status=DeliveryStatus.SUCCEEDED)),
        failing=Count("deliveries", filter=Q(deliveries__status=DeliveryStatus.FAILED)),
        pending=Count("deliveries", filter=Q(deliveries__status=DeliveryStatus.PENDING)),
    ).order_by("name")
    return render(
        request,
        "driftcontrol/webhooks.html",
        {
            "subscriptions": rows,
            "event_types": webhooks.EVENT_TYPES,
            "secret": secret,
            "form": request.POST if status == 400 else {},
        },
        status=status,
    )


@login_required
def subscription_detail(request: HttpRequest, pk: int) -> HttpResponse:
    check(request.user, Action.MANAGE_WEBHOOKS)
    subscription = get_object_or_404(WebhookSubscription, pk=pk)
    status = 200
    if request.method == "POST":
        changes = _fields(request)
        if request.POST.get("secret"):
            changes["secret"] = request.POST["secret"]
        try:
            subscription = webhooks.update(request.user, pk, **changes)
            messages.success(request, "Saved.")
            return redirect("webhook", pk=pk)
        except webhooks.InvalidSubscription as refusal:
            _refusal(request, refusal)
            status = 400
    deliveries = subscription.deliveries.order_by("-created_at")[:100]
    return render(
        request,
        "driftcontrol/webhook.html",
        {
            "subscription": subscription,
            "deliveries": deliveries,
            "event_types": webhooks.EVENT_TYPES,
            "all_events": webhooks.ALL_EVENTS,
        },
        status=status,
    )


@login_required
@require_POST
def subscription_delete(request: HttpRequest, pk: int) -> HttpResponse:
    webhooks.delete(request.user, pk)
    messages.success(request, "The subscription is deleted; its delivery log with it.")
    return redirect("webhooks")


@login_required
@require_POST
def redeliver(request: HttpRequest, pk: int, delivery: str) -> HttpResponse:
    copy = webhooks.redeliver(delivery, request.user)
    messages.success(request, f"Sending {copy.event_type} again as delivery {copy.pk}.")
    return redirect("webhook", pk=pk)
