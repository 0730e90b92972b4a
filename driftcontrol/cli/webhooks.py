"""`manage.py drift webhook add|list|update|remove|deliveries|redeliver|dispatch`."""

from __future__ import annotations

from argparse import ArgumentParser, Namespace

from django.core.management.base import CommandError

from driftcontrol import webhooks
from driftcontrol.cli.base import Command, Console, Group, cli_actor
from driftcontrol.models import WebhookDelivery, WebhookSubscription

EVENTS_HELP = f"event types, comma-separated: {', '.join(webhooks.EVENT_TYPES)}, or *"


def _events(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def _subscription(name: str) -> WebhookSubscription:
    found = WebhookSubscription.objects.filter(name=name).first()
    if found is None:
        raise CommandError(f"no webhook subscription named {name!r}")
    return found


def _add_arguments(parser: ArgumentParser) -> None:
    parser.add_argument("name")
    parser.add_argument("--url", required=True)
    parser.add_argument("--events", required=True, help=EVENTS_HELP)
    parser.add_argument("--secret", help="signing secret (generated and printed when omitted)")
    parser.add_argument("--inactive", action="store_true", help="create it switched off")


def add(options: Namespace, console: Console) -> int:
    subscription, secret = webhooks.subscribe(
        cli_actor(),
        options.name,
        options.url,
        _events(options.events),
        options.secret,
        active=not options.inactive,
    )
    console.success(f"subscribed {subscription.name} to {', '.join(subscription.event_types)}")
    if not options.secret:
        console.print(f"secret: {secret}")
    return 0


def list_subscriptions(options: Namespace, console: Console) -> int:
    console.print(f"{'ID':>4} {'NAME':<20} {'ACTIVE':<6} {'EVENTS':<40} URL")
    for item in WebhookSubscription.objects.order_by("name"):
        console.print(
            f"{item.pk:>4} {item.name[:20]:<20} {'yes' if item.active else 'no':<6} "
            f"{','.join(item.event_types)[:40]:<40} {item.url}"
        )
    return 0


def _update_arguments(parser: ArgumentParser) -> None:
    parser.add_argument("name")
    parser.add_argument("--url")
    parser.add_argument("--events", help=EVENTS_HELP)
    parser.add_argument("--secret")
    parser.add_argument("--active", choices=["yes", "no"])


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
    webhooks.update(cli_actor(), _subscription(options.name).pk, **changes)
    console.success(f"updated {options.name}")
    return 0


def remove(options: Namespace, console: Console) -> int:
    webhooks.delete(cli_actor(), _subscription(options.name).pk)
    console.success(f"removed {options.name}")
    return 0


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
            "redeliver",
            "send a delivery's event again",
            redeliver,
            lambda p: p.add_argument("delivery", help="the delivery id"),
        ),
        Command("dispatch", "send pending outbox events now", dispatch),
    ],
)
