"""`manage.py drift webhook add|list|update|remove|ping|rotate-secret|deliveries|delivery|
redeliver|dispatch`."""

from __future__ import annotations

import json
import re
import uuid
from argparse import ArgumentParser, ArgumentTypeError, Namespace
from datetime import timedelta
from typing import Any

from django.core.management.base import CommandError

from driftcontrol import webhooks
from driftcontrol.cli.base import Command, Console, Group, cli_actor
from driftcontrol.models import WebhookDelivery, WebhookSubscription
from driftcontrol.models.webhooks import SeverityFloor

EVENTS_HELP = f"event types, comma-separated: {', '.join(webhooks.EVENT_TYPES)}, or *"


def _events(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


_DURATION = re.compile(r"^(\d+)([smhd]?)$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def _duration(text: str) -> timedelta:
    """90, 90s, 30m, 24h or 7d."""
    found = _DURATION.match(text.strip())
    if found is None:
        raise ArgumentTypeError(f"{text!r}: give seconds, or a number with s, m, h or d (24h)")
    return timedelta(seconds=int(found[1]) * _UNITS[found[2]])


def _subscription(name: str) -> WebhookSubscription:
    found = WebhookSubscription.objects.filter(name=name).first()
    if found is None:
        raise CommandError(f"no webhook subscription named {name!r}")
    return found


def _filter_arguments(parser: ArgumentParser) -> None:
    parser.add_argument(
        "--payload-version",
        type=int,
        choices=[1, 2],
        help="2: snake_case (the default for new subscriptions); 1: camelCase, deprecated",
    )
    parser.add_argument("--clusters", help="only these clusters, comma-separated ('' for any)")
    parser.add_argument("--lanes", help="only clusters in these lanes, comma-separated")
    parser.add_argument(
        "--min-severity",
        choices=[*SeverityFloor.values, "any"],
        help="only events at least this severe ('any' removes the floor)",
    )


def _filters(options: Namespace) -> dict[str, Any]:
    """The payload version and filters given on the command line."""
    given: dict[str, Any] = {}
    if options.payload_version is not None:
        given["payload_version"] = options.payload_version
    for name in ("clusters", "lanes"):
        if getattr(options, name) is not None:
            given[name] = _events(getattr(options, name))
    if options.min_severity is not None:
        given["min_severity"] = "" if options.min_severity == "any" else options.min_severity
    return given


def _add_arguments(parser: ArgumentParser) -> None:
    parser.add_argument("name")
    parser.add_argument("--url", required=True)
    parser.add_argument("--events", required=True, help=EVENTS_HELP)
    parser.add_argument("--secret", help="signing secret (generated and printed when omitted)")
    parser.add_argument("--inactive", action="store_true", help="create it switched off")
    _filter_arguments(parser)


def add(options: Namespace, console: Console) -> int:
    subscription, secret = webhooks.subscribe(
        cli_actor(),
        options.name,
        options.url,
        _events(options.events),
        options.secret,
        active=not options.inactive,
        **_filters(options),
    )
    console.success(f"subscribed {subscription.name} to {', '.join(subscription.event_types)}")
    if not options.secret:
        console.print(f"secret: {secret}")
    return 0


def list_subscriptions(options: Namespace, console: Console) -> int:
    console.print(f"{'ID':>4} {'NAME':<20} {'ACTIVE':<6} {'V':<1} {'EVENTS':<30} URL  FILTERS")
    for item in WebhookSubscription.objects.order_by("name"):
        console.print(
            f"{item.pk:>4} {item.name[:20]:<20} {'yes' if item.active else 'no':<6} "
            f"{item.payload_version:<1} {','.join(item.event_types)[:30]:<30} {item.url}  "
            f"{_described_filters(item)}"
        )
    return 0


def _described_filters(item: WebhookSubscription) -> str:
    parts = [f"clusters={','.join(item.clusters)}"] if item.clusters else []
    parts += [f"lanes={','.join(item.lanes)}"] if item.lanes else []
    parts += [f"severity>={item.min_severity}"] if item.min_severity else []
    return " ".join(parts) or "-"


def _update_arguments(parser: ArgumentParser) -> None:
    parser.add_argument("name")
    parser.add_argument("--url")
    parser.add_argument("--events", help=EVENTS_HELP)
    parser.add_argument("--secret", help="replaces the secret at once (rotate-secret overlaps)")
    parser.add_argument("--active", choices=["yes", "no"])
    _filter_arguments(parser)


def update(options: Namespace, console: Console) -> int:
    changes: dict[str, object] = {}
    if options.url:
        changes["url"] = options.url
    if options.events:
        changes["event_types"] = _events(options.events)
    if options.secret:
        changes["secret"] = options.secret
    if options.active:
        changes["active"] = options.active == "yes"
    changes.update(_filters(options))
    webhooks.update(cli_actor(), _subscription(options.name).pk, **changes)
    console.success(f"updated {options.name}")
    return 0


def remove(options: Namespace, console: Console) -> int:
    webhooks.delete(cli_actor(), _subscription(options.name).pk)
    console.success(f"removed {options.name}")
    return 0


def ping(options: Namespace, console: Console) -> int:
    delivery = webhooks.ping(cli_actor(), _subscription(options.name).pk)
    console.success(f"queued ping {delivery.pk}; see `drift webhook delivery {delivery.pk}`")
    return 0


def rotate_secret(options: Namespace, console: Console) -> int:
    subscription, secret = webhooks.rotate(
        cli_actor(), _subscription(options.name).pk, options.overlap
    )
    until = subscription.previous_secret_expires_at
    if until is not None:
        console.success(f"rotated; the previous secret signs too until {until:%Y-%m-%d %H:%M %Z}")
    else:
        console.success("rotated; the previous secret no longer signs")
    console.print(f"secret: {secret}")
    return 0


def _rotate_arguments(parser: ArgumentParser) -> None:
    parser.add_argument("name")
    parser.add_argument(
        "--overlap",
        type=_duration,
        default=webhooks.DEFAULT_OVERLAP,
        help="how long the previous secret keeps signing: 90s, 30m, 24h (default), at most 7d",
    )


def deliveries(options: Namespace, console: Console) -> int:
    found = WebhookDelivery.objects.select_related("subscription").order_by("-created_at")
    if options.name:
        found = found.filter(subscription__name=options.name)
    console.print(f"{'DELIVERY':<36} {'EVENT':<26} {'STATUS':<9} {'TRIES':>5} {'CODE':>4} ERROR")
    for item in found[: options.limit]:
        console.print(
            f"{item.pk!s:<36} {item.event_type[:26]:<26} {item.status:<9} {item.attempts:>5} "
            f"{item.response_code or '-':>4} {item.last_error[:60]}"
        )
    return 0


def show_delivery(options: Namespace, console: Console) -> int:
    """One delivery with its last request and response (credentials redacted)."""
    try:
        found = WebhookDelivery.objects.select_related("subscription").get(
            pk=uuid.UUID(options.delivery)
        )
    except (ValueError, WebhookDelivery.DoesNotExist):
        raise CommandError(f"no webhook delivery {options.delivery}") from None
    console.print(
        f"{found.event_type} to {found.subscription.name}: {found.status}, "
        f"{found.attempts} attempt(s), response {found.response_code or '-'}"
    )
    if found.last_error:
        console.print(f"last error: {found.last_error}")
    console.print(f"request headers: {json.dumps(found.request_headers, indent=2)}")
    console.print(f"request body: {found.request_body}")
    console.print(f"response headers: {json.dumps(found.response_headers, indent=2)}")
    cut = " (truncated)" if found.response_truncated else ""
    console.print(f"response body{cut}: {found.response_body}")
    return 0


def redeliver(options: Namespace, console: Console) -> int:
    copy = webhooks.redeliver(options.delivery, cli_actor())
    console.success(f"queued redelivery {copy.pk}")
    return 0


def dispatch(options: Namespace, console: Console) -> int:
    """What the beat task does, once, in this process (queues the deliveries)."""
    console.success(f"dispatched {webhooks.dispatch()} outbox event(s)")
    return 0


GROUP = Group(
    "webhook",
    "outbound webhook subscriptions and their deliveries",
    [
        Command("add", "subscribe a URL to events", add, _add_arguments),
        Command("list", "list subscriptions", list_subscriptions),
        Command("update", "change a subscription", update, _update_arguments),
        Command("remove", "delete a subscription", remove, lambda p: p.add_argument("name")),
        Command("ping", "send a test delivery", ping, lambda p: p.add_argument("name")),
        Command(
            "rotate-secret",
            "a new secret, the previous one still signing during an overlap",
            rotate_secret,
            _rotate_arguments,
        ),
        Command(
            "deliveries",
            "the delivery log, newest first",
            deliveries,
            lambda p: (
                p.add_argument("name", nargs="?", help="one subscription"),
                p.add_argument("--limit", type=int, default=50),
            ),
        ),
        Command(
            "delivery",
            "one delivery's last request and response",
            show_delivery,
            lambda p: p.add_argument("delivery", help="the delivery id"),
        ),
        Command(
            "redeliver",
            "send a delivery's event again",
            redeliver,
            lambda p: p.add_argument("delivery", help="the delivery id"),
        ),
        Command("dispatch", "send pending outbox events now", dispatch),
    ],
)
