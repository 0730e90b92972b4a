from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

from drift.models import Cluster, DriftPolicy, Finding, RemediationStrategy, Severity

# An approval that nobody gives within a day is stale: the cluster and Git have moved on.
DEFAULT_EXPIRY = timedelta(hours=24)


def default_expiry() -> object:
    return timezone.now() + DEFAULT_EXPIRY


class RequestTrigger(models.TextChoices):
    MANUAL = "manual", "Requested by a person"
    AUTO = "auto", "Auto-remediation"
    VERIFICATION = "verification", "Rollback after a failed verification"
    FLAPPING = "flapping", "Alert: the drift keeps coming back"


class RequestStatus(models.TextChoices):
    PENDING = "pending", "Waiting for approval"
    APPROVED = "approved", "Approved, waiting to run"
    EXECUTING = "executing", "Executing"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    ROLLED_BACK = "rolled_back", "Rolled back"
    REJECTED = "rejected", "Rejected"
    EXPIRED = "expired", "Expired"
    CANCELLED = "cancelled", "Cancelled"


FINAL_STATUSES = (
    RequestStatus.SUCCEEDED,
    RequestStatus.FAILED,
    RequestStatus.ROLLED_BACK,
    RequestStatus.REJECTED,
    RequestStatus.EXPIRED,
    RequestStatus.CANCELLED,
)


class Decision(models.TextChoices):
    APPROVE = "approve", "Approve"
    REJECT = "reject", "Reject"


class RequestQuerySet(models.QuerySet["RemediationRequest"]):
    def with_approvals_given(self) -> RequestQuerySet:
        """Annotate `approvals_given`: approvals of each request's current plan, counted in
        the same query (approvals of an older plan no longer count)."""
        return self.annotate(
            approvals_given=models.Count(
                "approvals",
                filter=models.Q(
                    approvals__decision=Decision.APPROVE,
                    approvals__plan_version=models.F("plan_version"),
                ),
            )
        )


class RemediationRequest(models.Model):
    """A proposed correction of open findings on one cluster, with its plan and decisions."""

    cluster = models.ForeignKey(Cluster, on_delete=models.PROTECT, related_name="remediations")
    policy = models.ForeignKey(
        DriftPolicy, null=True, blank=True, on_delete=models.SET_NULL, related_name="remediations"
    )
    findings = models.ManyToManyField(Finding, related_name="remediations")
    strategy = models.CharField(max_length=16, choices=RemediationStrategy)
    status = models.CharField(max_length=16, choices=RequestStatus, default=RequestStatus.PENDING)
    severity = models.CharField(
        max_length=16, choices=Severity, help_text="highest severity among its findings"
    )
    # None: the system asked (auto-remediation).
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.TextField(blank=True)
    trigger = models.CharField(max_length=16, choices=RequestTrigger, default=RequestTrigger.MANUAL)
    approvals_required = models.PositiveSmallIntegerField(default=1)
    # Re-planning (the cluster changed after approval) starts a new version: approvals
    # given to an older plan no longer count.
    plan_version = models.PositiveIntegerField(default=1)
    revision = models.CharField(max_length=64, blank=True, help_text="Git commit planned from")
    target = models.JSONField(
        default=dict, blank=True, help_text="rollback target: a snapshot per object, or a revision"
    )
    rollback_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="rollbacks"
    )
    status_reason = models.TextField(blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    # The executing worker holds a lease it renews; an expired lease means the worker died
    # and another may resume the request.
    lease_until = models.DateTimeField(null=True, blank=True)
    executions = models.PositiveSmallIntegerField(default=0)

    plan = models.JSONField(
        default=dict, blank=True, help_text="the dry-run result: objects, fields taken over, diff"
    )
    result = models.JSONField(
        default=dict, blank=True, help_text="per-object outcome and verification"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # When something a client syncs last changed: status, plan, a decision, the outcome.
    # Writes that bypass save() (conditional UPDATEs) set it themselves; renewing the
    # executor's lease does not.
    updated_at = models.DateTimeField(auto_now=True)
    expires_at = models.DateTimeField(default=default_expiry)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = RequestQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "expires_at"]),
            models.Index(fields=["status", "lease_until"]),
            models.Index(fields=["cluster", "status", "-created_at"]),
            models.Index(fields=["-created_at"]),
            # Incremental sync pages by (updated_at, id) from `?updated_since=`.
            models.Index(fields=["updated_at", "id"], name="remediation_updated"),
        ]

    def __str__(self) -> str:
        return f"{self.strategy} request #{self.pk} on {self.cluster_id} ({self.status})"

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES


class Approval(models.Model):
    """One approver's decision on one request; the database allows one per approver."""

    request = models.ForeignKey(
        RemediationRequest, on_delete=models.CASCADE, related_name="approvals"
    )
    approver = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    decision = models.CharField(max_length=8, choices=Decision)
    comment = models.TextField(blank=True)
    plan_version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    # A decision is never changed, so this is its creation time; it is here so approvals
    # sync like findings and requests (`?updated_since=`, `ordering=updated_at`).
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at"]
        indexes = [models.Index(fields=["updated_at", "id"], name="approval_updated")]
        constraints = [
            # One decision per approver on each plan; a re-planned request asks again.
            models.UniqueConstraint(
                fields=["request", "approver", "plan_version"],
                name="approval_one_decision_per_approver",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.decision} of request #{self.request_id} by {self.approver_id}"
