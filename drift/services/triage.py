"""Triage of findings by people: acknowledge, suppress for a while, reopen, resolve what
no scan can (a reviewed break-glass change), link a ticket.

Used alike by the dashboard's bulk actions, the API and the CLI. Each change is checked
against the permission module, locked, audited, and safe to repeat.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from drift.models import Finding, FindingStatus
from drift.services.ledger import ADMITTED
from drift.services.ledger_events import event_payload
from driftcontrol import audit
from driftcontrol.exceptions import DomainError, NotFound
from driftcontrol.outbox import publish
from driftcontrol.permissions import Action, check

MAX_SUPPRESSION = timedelta(days=180)
ACKNOWLEDGED_FIELDS = ["status", "status_reason", "acknowledged_by", "acknowledged_at"]
SUPPRESSION_FIELDS = ["status", "status_reason", "suppressed_until", "updated_at"]


@dataclass
class Outcome:
    changed: list[Finding] = field(default_factory=list)
    skipped: dict[int, str] = field(default_factory=dict)  # finding id -> why
    # Already as asked (acknowledged again, the same suppression again): nothing written.
    # Acknowledging or reopening twice is also in `skipped`, as before; a repeated
    # suppression is not (it answered 200 and still does).
    unchanged: list[Finding] = field(default_factory=list)


def _locked(ids: Iterable[int]) -> list[Finding]:
    return list(Finding.objects.select_for_update().filter(pk__in=list(ids)).order_by("pk"))


def acknowledge(ids: Iterable[int], user: Any, comment: str = "") -> Outcome:
    """Someone has seen it and owns it; it stays in the working set and in the score."""
    check(user, Action.TRIAGE_FINDING)
    outcome = Outcome()
    with transaction.atomic():
        for finding in _locked(ids):
            if finding.status != FindingStatus.OPEN:
                outcome.skipped[finding.pk] = f"is {finding.status}"
                if finding.status == FindingStatus.ACKNOWLEDGED:
                    outcome.unchanged.append(finding)
                continue
            finding.status, finding.status_reason = FindingStatus.ACKNOWLEDGED, comment
            finding.acknowledged_by, finding.acknowledged_at = user, timezone.now()
            finding.updated_at = finding.acknowledged_at
            finding.save(update_fields=[*ACKNOWLEDGED_FIELDS, "updated_at"])
            audit.record(user, "finding.acknowledged", finding, {"comment": comment})
            outcome.changed.append(finding)
    return outcome


def suppress(ids: Iterable[int], user: Any, reason: str, until: datetime) -> Outcome:
    """Accepted for now: out of the score until ``until``, then open again by itself."""
    check(user, Action.TRIAGE_FINDING)
    check_suppression(reason, until)
    outcome = Outcome()
    with transaction.atomic():
        for finding in _locked(ids):
            if finding.status == FindingStatus.RESOLVED:
                outcome.skipped[finding.pk] = "is resolved"
                continue
            asked = (FindingStatus.SUPPRESSED, reason, until)
            if (finding.status, finding.status_reason, finding.suppressed_until) == asked:
                outcome.unchanged.append(finding)
                continue
            finding.status, finding.status_reason = FindingStatus.SUPPRESSED, reason
            finding.suppressed_until, finding.updated_at = until, timezone.now()
            finding.save(update_fields=SUPPRESSION_FIELDS)
            audit.record(user, "finding.suppressed", finding, {"reason": reason, "until": until})
            outcome.changed.append(finding)
    return outcome


def check_suppression(reason: str, until: datetime) -> None:
    """Refuse a suppression without a reason, or one that ends in the past or too late."""
    if not reason.strip():
        raise DomainError("say why: a suppression needs a reason")
    now = timezone.now()
    if until <= now:
        raise DomainError("a suppression must end in the future")
    if until - now > MAX_SUPPRESSION:
        raise DomainError(f"a suppression may last at most {MAX_SUPPRESSION.days} days")


def reopen(ids: Iterable[int], user: Any) -> Outcome:
    """Back to open: an acknowledgement or suppression withdrawn."""
    check(user, Action.TRIAGE_FINDING)
    outcome = Outcome()
    with transaction.atomic():
        for finding in _locked(ids):
            if finding.status not in (FindingStatus.ACKNOWLEDGED, FindingStatus.SUPPRESSED):
                outcome.skipped[finding.pk] = f"is {finding.status}"
                if finding.status == FindingStatus.OPEN:
                    outcome.unchanged.append(finding)
                continue
            _reopen(finding)
            audit.record(user, "finding.reopened", finding, {})
            outcome.changed.append(finding)
    return outcome


def resolve(ids: Iterable[int], user: Any, comment: str = "") -> Outcome:
    """Reviewed and settled: only for findings about a change no scan can see gone (a
    break-glass change the admission webhook let through, ledger.ADMITTED). Any other
    resolves when a scan finds its object no longer breaks the rule."""
    check(user, Action.TRIAGE_FINDING)
    outcome = Outcome()
    with transaction.atomic():
        for finding in _locked(ids):
            if finding.status == FindingStatus.RESOLVED:
                outcome.skipped[finding.pk] = "is resolved"
                outcome.unchanged.append(finding)
                continue
            if finding.diff.get("state") != ADMITTED:
                outcome.skipped[finding.pk] = "resolves by itself once a scan no longer finds it"
                continue
            now = timezone.now()
            finding.status, finding.status_reason = FindingStatus.RESOLVED, comment or "reviewed"
            finding.resolved_at = finding.updated_at = now
            finding.save(update_fields=["status", "status_reason", "resolved_at", "updated_at"])
            audit.record(user, "finding.resolved", finding, {"comment": comment})
            publish("finding.resolved", event_payload(finding))
            outcome.changed.append(finding)
    return outcome


def _reopen(finding: Finding) -> None:
    finding.status, finding.status_reason, finding.suppressed_until = FindingStatus.OPEN, "", None
    finding.updated_at = timezone.now()
    finding.save(update_fields=SUPPRESSION_FIELDS)


def end_expired_suppressions() -> int:
    """Suppressions whose time is up open again (a beat task)."""
    ended = 0
    with transaction.atomic():
        for finding in Finding.objects.select_for_update().filter(
            status=FindingStatus.SUPPRESSED, suppressed_until__lte=timezone.now()
        ):
            _reopen(finding)
            audit.record("system:triage", "finding.suppression_ended", finding, {})
            ended += 1
    return ended


def link_ticket(finding_id: int, user: Any, ticket_id: str, url: str = "") -> Finding:
    return set_ticket(finding_id, user, ticket_id, url)[0]


def set_ticket(finding_id: int, user: Any, ticket_id: str, url: str = "") -> tuple[Finding, bool]:
    """Link the ticket; the finding, and whether anything changed (False: linked so already)."""
    check(user, Action.TRIAGE_FINDING)
    if not ticket_id.strip():
        raise DomainError("name the ticket (its id in the ticketing system)")
    with transaction.atomic():
        finding = _one(finding_id)
        if (finding.ticket_id, finding.ticket_url) == (ticket_id, url):
            return finding, False
        finding.ticket_id, finding.ticket_url = ticket_id[:200], url[:500]
        finding.updated_at = timezone.now()
        finding.save(update_fields=["ticket_id", "ticket_url", "updated_at"])
        audit.record(user, "finding.ticket_linked", finding, {"ticket": ticket_id, "url": url})
    return finding, True


def unlink_ticket(finding_id: int, user: Any) -> Finding:
    check(user, Action.TRIAGE_FINDING)
    with transaction.atomic():
        finding = _one(finding_id)
        if finding.ticket_id or finding.ticket_url:
            before = finding.ticket_id
            finding.ticket_id, finding.ticket_url = "", ""
            finding.updated_at = timezone.now()
            finding.save(update_fields=["ticket_id", "ticket_url", "updated_at"])
            audit.record(user, "finding.ticket_unlinked", finding, {"ticket": before})
    return finding


def _one(finding_id: int) -> Finding:
    found = Finding.objects.select_for_update().filter(pk=finding_id).first()
    if found is None:
        raise NotFound(f"no finding #{finding_id}")
    return found
