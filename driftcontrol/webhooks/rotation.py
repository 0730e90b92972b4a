"""Rotating a subscription's secret with an overlap, during which both sign (signing.py)."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from driftcontrol import audit
from driftcontrol.crypto import seal
from driftcontrol.exceptions import DomainError
from driftcontrol.models import WebhookSubscription
from driftcontrol.webhooks.subscriptions import locked, may_manage

DEFAULT_OVERLAP = timedelta(hours=24)
MAX_OVERLAP = timedelta(days=7)


def rotate(
    actor: Any, subscription_id: int, overlap: timedelta = DEFAULT_OVERLAP
) -> tuple[WebhookSubscription, str]:
    """A new secret, with the current one still signing for ``overlap``; returns the
    subscription and the new secret (shown once).

    A rotation during an overlap drops the oldest secret: only the two newest sign, so
    rotating twice in a row (a leaked secret) really retires the leaked one once the
    second overlap ends, and never later than the first overlap would have.
    """
    may_manage(actor)
    if not timedelta(0) <= overlap <= MAX_OVERLAP:
        raise DomainError(f"the overlap must be from 0 seconds to {MAX_OVERLAP.days} days")
    new = secrets.token_urlsafe(32)
    with transaction.atomic():
        subscription = locked(subscription_id)
        now = timezone.now()
        dropped = (
            subscription.previous_secret != ""
            and (subscription.previous_secret_expires_at or now) > now
        )
        subscription.previous_secret = subscription.secret if overlap else ""
        subscription.previous_secret_expires_at = now + overlap if overlap else None
        subscription.secret = seal(new)
        subscription.save(
            update_fields=["secret", "previous_secret", "previous_secret_expires_at", "updated_at"]
        )
        audit.record(
            actor,
            "webhook.secret_rotated",
            subscription,
            {
                "overlap_seconds": int(overlap.total_seconds()),
                "previous_valid_until": _iso(subscription.previous_secret_expires_at),
                "dropped_an_older_secret": dropped,
            },
        )
    return subscription, new


def _iso(moment: Any) -> str | None:
    return None if moment is None else moment.isoformat()
