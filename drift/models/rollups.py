from __future__ import annotations

from django.db import models


class RollupScope(models.TextChoices):
    FLEET = "fleet", "Fleet"
    CLUSTER = "cluster", "Cluster"
    LANE = "lane", "Lane"
    POLICY = "policy", "Policy"


class DailyRollup(models.Model):
    """One day of one scope (fleet, a cluster, a lane or a policy): what opened, what was
    resolved, what stayed open, the score, MTTD and MTTR. Charts read these rows, never the
    findings table."""

    day = models.DateField()
    scope = models.CharField(max_length=8, choices=RollupScope)
    scope_id = models.BigIntegerField(default=0, help_text="cluster, lane or policy id")
    scope_name = models.CharField(max_length=63, blank=True)
    opened = models.PositiveIntegerField(default=0)
    resolved = models.PositiveIntegerField(default=0)
    open_critical = models.PositiveIntegerField(default=0)
    open_high = models.PositiveIntegerField(default=0)
    open_medium = models.PositiveIntegerField(default=0)
    open_low = models.PositiveIntegerField(default=0)
    open_info = models.PositiveIntegerField(default=0)
    objects_in_scope = models.PositiveIntegerField(default=0)
    score = models.FloatField(default=100.0)
    mttd_median = models.FloatField(null=True, blank=True, help_text="seconds")
    mttd_p90 = models.FloatField(null=True, blank=True)
    mttr_median = models.FloatField(null=True, blank=True)
    mttr_p90 = models.FloatField(null=True, blank=True)
    generated = models.BooleanField(default=False, help_text="made up for the demo, not measured")
    computed_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["scope", "scope_id", "day"]
        constraints = [
            models.UniqueConstraint(
                fields=["scope", "scope_id", "day"], name="rollup_one_per_scope_and_day"
            ),
        ]
        indexes = [models.Index(fields=["scope", "day"])]

    def __str__(self) -> str:
        return f"{self.scope} {self.scope_name or self.scope_id} {self.day}"

    @property
    def open_total(self) -> int:
        return (
            self.open_critical + self.open_high + self.open_medium + self.open_low + self.open_info
        )
