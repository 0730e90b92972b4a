from __future__ import annotations

from django.db import models

from drift.models import Finding
from remediation.models.requests import RemediationRequest


class StepAction(models.TextChoices):
    APPLY = "apply", "Server-side apply from Git"
    CREATE = "create", "Create from Git"
    DELETE = "delete", "Delete (prune)"
    RESTORE = "restore", "Restore an earlier state"
    NOTIFY = "notify", "Notify only"


class StepStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    APPLYING = "applying", "Applying"
    APPLIED = "applied", "Applied"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"


class RemediationStep(models.Model):
    """What a request does to one object: its planned change, the base it was planned on,
    and what happened when it ran."""

    request = models.ForeignKey(RemediationRequest, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveIntegerField()
    finding = models.ForeignKey(
        Finding, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    api_version = models.CharField(max_length=100)
    kind = models.CharField(max_length=100)
    namespace = models.CharField(max_length=63, blank=True)
    name = models.CharField(max_length=253)
    action = models.CharField(max_length=8, choices=StepAction)
    source = models.CharField(max_length=100, blank=True, help_text="git:<commit> or snapshot:<id>")
    base_resource_version = models.CharField(max_length=64, blank=True)
    base_digest = models.CharField(
        max_length=64, blank=True, help_text="hash of the live object the plan was made on"
    )
    planned = models.JSONField(
        default=dict, blank=True, help_text="the object as the dry run returned it (redacted)"
    )
    changes = models.JSONField(
        default=list, blank=True, help_text="paths the step changes: live and planned values"
    )
    takeovers = models.JSONField(
        default=list, blank=True, help_text="fields taken from other field managers"
    )
    status = models.CharField(max_length=8, choices=StepStatus, default=StepStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    applied_at = models.DateTimeField(null=True, blank=True)
    result = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["request", "position"]
        constraints = [
            models.UniqueConstraint(fields=["request", "position"], name="step_unique_position"),
        ]

    def __str__(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.action} {self.kind} {where}{self.name} ({self.status})"
