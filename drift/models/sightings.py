from __future__ import annotations

from django.db import models

from drift.models.clusters import Cluster
from drift.models.policies import DriftPolicy
from drift.models.scans import Scan


class ScopeSighting(models.Model):
    """When a complete pass of one policy over one cluster last vouched for its findings.

    A scan that sees the same drift again writes this one row instead of every open
    finding's: an open finding that follows its scope was last seen at the later of its
    own sighting and its scope's (``Finding.objects`` computes that as ``last_seen``).
    """

    policy = models.ForeignKey(DriftPolicy, on_delete=models.CASCADE, related_name="+")
    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="+")
    seen_at = models.DateTimeField()
    scan = models.ForeignKey(
        Scan, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["policy", "cluster"], name="scope_sighting_one_per_pair"
            )
        ]

    def __str__(self) -> str:
        return (
            f"policy {self.policy_id} on cluster {self.cluster_id} at {self.seen_at:%Y-%m-%d %H:%M}"
        )
