"""What alignment keeps of its own: the writes the API servers' audit feeds reported."""

from __future__ import annotations

from django.db import models

from drift.models import Cluster


class KubeWrite(models.Model):
    """One write to an object, as a cluster's API server audited it: who (the user, not
    just the field manager), how, when. Append-only; the audit ID makes a redelivered
    batch harmless."""

    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="kube_writes")
    audit_id = models.CharField(max_length=64)
    verb = models.CharField(max_length=16)
    user = models.CharField(max_length=253)
    groups = models.JSONField(default=list, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    api_group = models.CharField(max_length=253, blank=True)
    api_version = models.CharField(max_length=64, blank=True)
    resource = models.CharField(max_length=253)  # plural, as the API server names it
    subresource = models.CharField(max_length=64, blank=True)
    namespace = models.CharField(max_length=253, blank=True)
    name = models.CharField(max_length=253)
    code = models.PositiveSmallIntegerField(null=True, blank=True)  # HTTP status
    at = models.DateTimeField()  # when the API server received the request
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["cluster", "audit_id"], name="kube_write_once")
        ]
        indexes = [
            models.Index(
                fields=["cluster", "resource", "namespace", "name", "-at"],
                name="kube_write_object",
            ),
            models.Index(fields=["at"], name="kube_write_age"),
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.verb} {self.resource}/{self.namespace}/{self.name}"
