"""Webhook subscriptions in the browser (admins): subscribe, change (payload version and
filters too), ping, rotate the secret, delete, see every delivery with its last request and
response, and send one again."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from driftcontrol import webhooks
from driftcontrol.models import DeliveryStatus, WebhookDelivery, WebhookSubscription
from driftcontrol.models.webhooks import PayloadVersion, SeverityFloor
from driftcontrol.permissions import Action, check

# What the rotation form offers, in hours (the API takes any number of seconds).
OVERLAP_HOURS = (0, 1, 24, 72, 168)


def _names(text: str) -> list[str]:
    return [item.strip() for item in text.replace("\n", ",").split(",") if item.strip()]


def _fields(request: HttpRequest) -> dict[str, Any]:
    chosen = request.POST.getlist("event_types")
    fields: dict[str, Any] = {
        "name": request.POST.get("name", "").strip(),
        "url": request.POST.get("url", "").strip(),
        "event_types": [webhooks.ALL_EVENTS] if webhooks.ALL_EVENTS in chosen else chosen,
        "active": request.POST.get("active") == "on",
        "description": request.POST.get("description", "").strip(),
        "clusters": _names(request.POST.get("clusters", "")),
        "lanes": _names(request.POST.get("lanes", "")),
        "min_severity": request.POST.get("min_severity", ""),
    }
    version = request.POST.get("payload_version", "")
    if version:
        fields["payload_version"] = int(version) if version.isdigit() else -1
    return fields


def _choices() -> dict[str, Any]:
    return {
        "event_types": webhooks.EVENT_TYPES,
        "all_events": webhooks.ALL_EVENTS,
        "payload_versions": PayloadVersion.choices,
        "severities": SeverityFloor.choices,
        "overlap_hours": OVERLAP_HOURS,
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
            "secret": secret,
            "form": request.POST if status == 400 else {},
            **_choices(),
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
    deliveries = subscription.deliveries.defer(
        "request_headers", "request_body", "response_headers", "response_body"
    ).order_by("-created_at")[:100]
    return render(
        request,
        "driftcontrol/webhook.html",
        {
            "subscription": subscription,
            "deliveries": deliveries,
            "signing_secrets": len(subscription.signing_secrets(timezone.now())),
            **_choices(),
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


@login_required
@require_POST
def ping(request: HttpRequest, pk: int) -> HttpResponse:
    delivery = webhooks.ping(request.user, pk)
    messages.success(request, f"Ping queued as delivery {delivery.pk}; it shows below.")
    return redirect("webhook", pk=pk)


@login_required
def rotate_secret(request: HttpRequest, pk: int) -> HttpResponse:
    """POST: a new secret, shown on this page once; the previous one keeps signing for the
    overlap chosen."""
    check(request.user, Action.MANAGE_WEBHOOKS)
    if request.method != "POST":
        return redirect("webhook", pk=pk)
    hours = request.POST.get("overlap_hours", "24")
    if not hours.isdigit() or int(hours) not in OVERLAP_HOURS:
        messages.error(request, f"overlap: choose one of {', '.join(map(str, OVERLAP_HOURS))} h")
        return redirect("webhook", pk=pk)
    subscription, secret = webhooks.rotate(request.user, pk, timedelta(hours=int(hours)))
    return render(
        request,
        "driftcontrol/webhook_rotated.html",
        {"subscription": subscription, "secret": secret},
    )


@login_required
def delivery_detail(request: HttpRequest, pk: int, delivery: str) -> HttpResponse:
    check(request.user, Action.MANAGE_WEBHOOKS)
    found = get_object_or_404(
        WebhookDelivery.objects.select_related("subscription", "event"),
        pk=delivery,
        subscription_id=pk,
    )
    return render(request, "driftcontrol/webhook_delivery.html", {"delivery": found})
