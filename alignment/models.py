"""What alignment keeps of its own: the writes the API servers' audit feeds reported."""

from __future__ import annotations

from django.db import models

from drift.models import Cluster, DriftPolicy
from driftcontrol.crypto import SealedTextField


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


class RegistryCredential(models.Model):
    """How to reach one OCI registry host: credentials (sealed) and the CA its TLS
    certificate chains to. A host without one is read anonymously over TLS with the
    system's CAs."""

    host = models.CharField(max_length=253, unique=True, help_text="e.g. ghcr.io, 10.0.0.5:5000")
    username = models.CharField(max_length=253, blank=True)
    password = SealedTextField(blank=True, help_text="a password or token, encrypted at rest")
    ca_pem = models.TextField(blank=True, help_text="PEM CA certificates to trust for this host")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["host"]

    def __str__(self) -> str:
        return self.host


class ImageVerification(models.Model):
    """What a registry held for one image digest, judged under one trust configuration.
    A digest names immutable content, so the row stays true until the trust changes
    (another fingerprint) or signatures are added later (verified_at says how old)."""

    digest = models.CharField(max_length=80)  # sha256:<64 hex>
    trust = models.CharField(max_length=64)  # alignment.supply.verify.Trust.fingerprint()
    evidence = models.JSONField()  # alignment.supply.verdict.Evidence.as_dict()
    verified_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["digest", "trust"], name="one_verdict_per_trust")
        ]

    def __str__(self) -> str:
        return f"{self.digest} ({self.trust[:12]})"


class ImageUse(models.Model):
    """One container image a workload runs, as the last scan of a policy on a cluster saw
    it, with its lane's verdict: the Images page lists these. Each scan replaces its
    policy's rows for its cluster."""

    policy = models.ForeignKey(DriftPolicy, on_delete=models.CASCADE, related_name="image_uses")
    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="image_uses")
    namespace = models.CharField(max_length=253)
    kind = models.CharField(max_length=63)
    name = models.CharField(max_length=253)
    container = models.CharField(max_length=253)
    image = models.CharField(max_length=1024)  # as the pod spec writes it
    digest = models.CharField(max_length=80, blank=True)
    lane = models.CharField(max_length=63, blank=True)
    state = models.CharField(max_length=24)  # alignment.images.STATES
    detail = models.JSONField(default=dict, blank=True)  # signer, builder, source, revision
    seen_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["image", "digest"]), models.Index(fields=["state"])]
        constraints = [
            models.UniqueConstraint(
                fields=["policy", "cluster", "namespace", "kind", "name", "container"],
                name="one_use_per_container",
            )
        ]

    def __str__(self) -> str:
        return f"{self.image} in {self.namespace}/{self.name} ({self.container})"
