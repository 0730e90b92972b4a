from __future__ import annotations

from django.core.validators import MinValueValidator
from django.db import models

from drift.engine import rules, windows
from drift.models.choices import (
    AutoRemediation,
    PolicyMode,
    RemediationStrategy,
    UndeclaredFields,
)
from drift.models.clusters import dns_label
from drift.models.sources import GitSource
from drift.models.validation import raise_problems


def default_approvals() -> dict[str, int]:
    # Critical changes to production deserve two pairs of eyes; info needs none.
    return {"critical": 2, "high": 1, "medium": 1, "low": 1, "info": 0}


def default_scope() -> dict[str, list[str]]:
    return {"include": [], "exclude": []}


class DriftPolicy(models.Model):
    """What to compare (source, clusters, scope) and how to respond to drift."""

    name = models.CharField(max_length=63, unique=True, validators=[dns_label])
    description = models.TextField(blank=True)
    enabled = models.BooleanField(default=True)
    source = models.ForeignKey(GitSource, on_delete=models.PROTECT, related_name="policies")
    cluster_names = models.JSONField(
        default=list, blank=True, help_text="clusters targeted by name"
    )
    cluster_selector = models.JSONField(
        default=dict, blank=True, help_text="clusters targeted by label selector"
    )
    default_namespace = models.CharField(
        max_length=63,
        default="default",
        help_text="namespace for namespaced objects that name none",
    )
    namespaces = models.JSONField(default=default_scope, blank=True)
    kinds = models.JSONField(default=default_scope, blank=True)
    object_selector = models.JSONField(
        default=dict, blank=True, help_text="label selector for objects in scope"
    )
    interval_seconds = models.PositiveIntegerField(default=120, validators=[MinValueValidator(10)])
    # How long live objects may come from an older revision than Git's head (sync.lagging).
    sync_grace_seconds = models.PositiveIntegerField(default=600)
    mode = models.CharField(max_length=16, choices=PolicyMode, default=PolicyMode.DETECT_ONLY)
    detect_unmanaged = models.BooleanField(default=False)
    undeclared_fields = models.CharField(
        max_length=8,
        choices=UndeclaredFields,
        default=UndeclaredFields.IGNORE,
        help_text="report fields that untrusted managers added live",
    )
    trusted_managers = models.JSONField(
        default=list,
        blank=True,
        help_text="field managers whose additions are expected (added to the built-in controllers)",
    )
    gitops_managers = models.JSONField(
        default=list,
        blank=True,
        help_text="field managers that apply Git (added to the built-in appliers)",
    )
    prune = models.BooleanField(default=False, help_text="a sync may delete unmanaged objects")
    change_windows = models.JSONField(
        default=list,
        blank=True,
        help_text="when approved remediations may run: [{cron, duration, timeZone}]",
    )
    request_expiry_seconds = models.PositiveIntegerField(
        default=24 * 3600,
        validators=[MinValueValidator(60)],
        help_text="a request nobody approves in this time expires",
    )
    rollback_on_failed_verification = models.BooleanField(
        default=True, help_text="undo a remediation whose result does not verify"
    )
    flap_count = models.PositiveSmallIntegerField(
        default=3,
        validators=[MinValueValidator(2)],
        help_text="a finding back this many times within flap_window stops auto-remediation",
    )
    flap_window_seconds = models.PositiveIntegerField(
        default=3600, validators=[MinValueValidator(60)]
    )
    ignore_rules = models.JSONField(default=list, blank=True)
    severity_rules = models.JSONField(default=list, blank=True)
    strategy = models.CharField(
        max_length=16, choices=RemediationStrategy, default=RemediationStrategy.SYNC
    )
    auto_remediate_up_to = models.CharField(
        max_length=16, choices=AutoRemediation, default=AutoRemediation.NONE
    )
    approvals = models.JSONField(default=default_approvals, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "drift policies"

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        names: list[rules.Problem] = []
        rules.string_list(self.cluster_names, "cluster_names", names)
        raise_problems(
            {
                "cluster_names": names,
                "cluster_selector": rules.label_selector(self.cluster_selector, "cluster_selector"),
                "namespaces": rules.include_exclude(self.namespaces, "namespaces"),
                "kinds": rules.include_exclude(self.kinds, "kinds"),
                "ignore_rules": rules.ignore_rules(self.ignore_rules, "ignore_rules"),
                "severity_rules": rules.severity_rules(self.severity_rules, "severity_rules"),
                "approvals": rules.approvals(self.approvals, "approvals"),
                "change_windows": windows.problems(self.change_windows, "change_windows"),
            }
        )

    def approvals_needed(self, severity: str) -> int:
        """Approvers a remediation of this severity needs; 0 means it may run unapproved."""
        return int(self.approvals.get(severity, default_approvals()[severity]))
