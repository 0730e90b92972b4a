"""Webhook subscriptions: who receives which events, managed by people with the right."""

from __future__ import annotations

import secrets
from typing import Any

from django.db import transaction

from driftcontrol import audit
from driftcontrol.exceptions import DomainError, NotFound
from driftcontrol.models import WebhookDelivery, WebhookSubscription
from driftcontrol.models.webhooks import PayloadVersion, SeverityFloor
from driftcontrol.permissions import Action, check
from driftcontrol.webhooks.delivery import queue
from driftcontrol.webhooks.events import EVENT_TYPES
from driftcontrol.webhooks.filters import name_problems
from driftcontrol.webhooks.targets import url_problem

ALL_EVENTS = "*"
MIN_SECRET_LENGTH = 16
# What a subscription may set besides its name, URL, events, secret, state and description.
FILTERS = ("payload_version", "clusters", "lanes", "min_severity")


class InvalidSubscription(DomainError):
    """The subscription cannot be saved as given; ``field_errors`` says why, per field."""

    def __init__(self, field_errors: dict[str, list[str]]) -> None:
        self.field_errors = field_errors
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in field_errors.items()))


# The columns' sizes, checked here so that every door (API, page, CLI) gets the same clear
# refusal instead of a database error; a description is read like a comment.
_NAME_LENGTH = WebhookSubscription._meta.get_field("name").max_length or 100
_URL_LENGTH = WebhookSubscription._meta.get_field("url").max_length or 500
_DESCRIPTION_LENGTH = 2000


def _problems(
    name: str | None,
    url: str | None,
    event_types: list[str] | None,
    secret: str | None,
    description: str | None = None,
) -> dict[str, list[str]]:
    problems: dict[str, list[str]] = {}
    if name is not None and not name.strip():
        problems["name"] = ["name the subscription (e.g. jira)"]
    elif name is not None and len(name.strip()) > _NAME_LENGTH:
        problems["name"] = [f"use at most {_NAME_LENGTH} characters"]
    if url is not None and len(url) > _URL_LENGTH:
        problems["url"] = [f"use at most {_URL_LENGTH} characters"]
    elif url is not None and (why := url_problem(url)) is not None:
        problems["url"] = [why]
    if description is not None and len(description) > _DESCRIPTION_LENGTH:
        problems["description"] = [f"use at most {_DESCRIPTION_LENGTH} characters"]
    if event_types is not None:
        unknown = [t for t in event_types if t != ALL_EVENTS and t not in EVENT_TYPES]
        if not event_types:
            problems["event_types"] = ['subscribe to at least one event type, or "*"']
        elif unknown:
            problems["event_types"] = [
                f"unknown event type(s) {', '.join(unknown)}; use {', '.join(EVENT_TYPES)} or *"
            ]
    if secret is not None and len(secret) < MIN_SECRET_LENGTH:
        problems["secret"] = [f"use at least {MIN_SECRET_LENGTH} characters"]
    return problems


def _filter_problems(changes: dict[str, Any]) -> dict[str, list[str]]:
    """What is wrong with the payload version and filters among ``changes``."""
    problems: dict[str, list[str]] = {}
    for field, what in (("clusters", "cluster"), ("lanes", "lane")):
        if field in changes and (found := name_problems(changes[field], what)):
            problems[field] = found
    version = changes.get("payload_version")
    if version is not None and version not in PayloadVersion.values:
        problems["payload_version"] = [f"use one of {', '.join(map(str, PayloadVersion.values))}"]
    floor = changes.get("min_severity")
    if floor is not None and floor != "" and floor not in SeverityFloor.values:
        problems["min_severity"] = [f"use one of {', '.join(SeverityFloor.values)}, or empty"]
    return problems


def may_manage(actor: Any) -> None:
    if not isinstance(actor, str):  # a "cli:..." actor is someone with a shell on the server
        check(actor, Action.MANAGE_WEBHOOKS)


def subscribe(
    actor: Any,
    name: str,
    url: str,
    event_types: list[str],
    secret: str | None = None,
    active: bool = True,
    description: str = "",
    **options: Any,
) -> tuple[WebhookSubscription, str]:
    """Create a subscription; returns it and its secret (generated when none is given).
    ``options``: payload_version (2 unless asked), clusters, lanes, min_severity."""
    from driftcontrol.crypto import seal

    may_manage(actor)
    unknown = set(options) - set(FILTERS)
    if unknown:
        raise DomainError(f"cannot set {', '.join(sorted(unknown))}")
    problems = _problems(name, url, event_types, secret, description) | _filter_problems(options)
    if WebhookSubscription.objects.filter(name=name).exists():
        problems.setdefault("name", []).append(f"a subscription named {name!r} exists")
    if problems:
        raise InvalidSubscription(problems)
    secret = secret or secrets.token_urlsafe(32)
    for key in ("clusters", "lanes"):
        if key in options:
            options[key] = sorted(set(options[key]))
    with transaction.atomic():
        subscription = WebhookSubscription.objects.create(
            name=name.strip(),
            url=url,
            secret=seal(secret),
            event_types=sorted(set(event_types)),
            active=active,
            description=description,
            created_by=None if isinstance(actor, str) else actor,
            **options,
        )
        audit.record(
            actor,
            "webhook.created",
            subscription,
            {
                "url": url,
                "eventTypes": subscription.event_types,
                "active": active,
                **{key: getattr(subscription, key) for key in FILTERS},
            },
        )
    return subscription, secret


def update(actor: Any, subscription_id: int, **changes: Any) -> WebhookSubscription:
    """Change name, url, event_types, secret, active, description, payload_version or a
    filter (audited). A secret given here replaces the current one at once and ends any
    rotation's overlap; `rotation.rotate` is the way to change it without a gap."""
    may_manage(actor)
    allowed = {"name", "url", "event_types", "secret", "active", "description", *FILTERS}
    unknown = set(changes) - allowed
    if unknown:
        raise DomainError(f"cannot change {', '.join(sorted(unknown))}")
    problems = _problems(
        changes.get("name"),
        changes.get("url"),
        changes.get("event_types"),
        changes.get("secret"),
        changes.get("description"),
    ) | _filter_problems(changes)
    with transaction.atomic():
        subscription = locked(subscription_id)
        name = changes.get("name")
        others = WebhookSubscription.objects.exclude(pk=subscription.pk)
        if name and others.filter(name=name).exists():
            problems.setdefault("name", []).append(f"a subscription named {name!r} exists")
        if problems:
            raise InvalidSubscription(problems)
        changed = _apply(subscription, changes)
        if changed:
            subscription.save()
            audit.record(actor, "webhook.updated", subscription, {"changed": sorted(changed)})
    return subscription


def _apply(subscription: WebhookSubscription, changes: dict[str, Any]) -> list[str]:
    """Set what differs; the names of the fields changed."""
    from driftcontrol.crypto import seal, unseal

    changed = []
    for key, value in changes.items():
        if key == "secret":
            if value and unseal(subscription.secret) != value:
                subscription.secret = seal(value)
                subscription.previous_secret, subscription.previous_secret_expires_at = "", None
                changed.append(key)
            continue
        if key in ("event_types", "clusters", "lanes"):
            value = sorted(set(value))
        if getattr(subscription, key) != value:
            setattr(subscription, key, value)
            changed.append(key)
    return changed


def delete(actor: Any, subscription_id: int) -> None:
    may_manage(actor)
    with transaction.atomic():
        subscription = locked(subscription_id)
        audit.record(actor, "webhook.deleted", subscription, {"url": subscription.url})
        subscription.delete()


def locked(subscription_id: int) -> WebhookSubscription:
    found = WebhookSubscription.objects.select_for_update().filter(pk=subscription_id).first()
    if found is None:
        raise NotFound(f"no webhook subscription #{subscription_id}")
    return found


def redeliver(delivery_id: Any, actor: Any) -> WebhookDelivery:
    """Send an event to a subscription again, as a new delivery with its own log."""
    may_manage(actor)
    original = WebhookDelivery.objects.select_related("subscription").filter(pk=delivery_id).first()
    if original is None:
        raise NotFound(f"no webhook delivery {delivery_id}")
    if not original.subscription.active:
        raise DomainError(f"subscription {original.subscription.name} is inactive")
    with transaction.atomic():
        copy = WebhookDelivery.objects.create(
            subscription=original.subscription,
            event_id=original.event_id,
            event_type=original.event_type,
            redelivery_of=original,
            requested_by=actor if isinstance(actor, str) else actor.get_username(),
        )
        audit.record(
            actor,
            "webhook.redelivery_requested",
            original.subscription,
            {"event": str(original.event_id), "delivery": str(copy.pk)},
        )
        transaction.on_commit(lambda: queue([copy.pk]))
    return copy
