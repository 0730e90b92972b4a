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


class ManagedObject(models.Model):
    """An object Git manages on a cluster, as the last complete scan of its policy read
    Git: what the admission webhook tells a change by hand from a change through Git.
    Each scan writes only the rows that changed."""

    policy = models.ForeignKey(DriftPolicy, on_delete=models.CASCADE, related_name="+")
    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="+")
    api_group = models.CharField(max_length=253, blank=True)
    kind = models.CharField(max_length=100)
    namespace = models.CharField(max_length=63, blank=True)
    name = models.CharField(max_length=253)
    source = models.CharField(max_length=500)  # the Git source's URL
    revision = models.CharField(max_length=64)  # the commit the scan read
    path = models.CharField(max_length=500)  # manifest file and line in Git

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["policy", "cluster", "api_group", "kind", "namespace", "name"],
                name="one_managed_row_per_object",
            )
        ]
        indexes = [models.Index(fields=["cluster"], name="managed_by_cluster")]

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name} from {self.path}"


class AdmissionCertificate(models.Model):
    """The admission webhook's CA (role "ca") and the serving certificates it signs (role
    "serving"), private keys sealed. The newest valid one of each role is in use; a
    serving certificate is replaced before it expires, under the same CA, so the CA
    bundle the API servers hold stays good."""

    role = models.CharField(max_length=8)  # "ca" | "serving"
    certificate_pem = models.TextField()
    private_key = SealedTextField()
    issuer = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="issued"
    )
    hosts = models.JSONField(default=list, blank=True)  # DNS names and IPs a serving one names
    not_before = models.DateTimeField()
    not_after = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-not_after", "-id"]
        indexes = [models.Index(fields=["role", "-not_after"], name="admission_cert_current")]

    def __str__(self) -> str:
        return f"admission {self.role} certificate valid until {self.not_after:%Y-%m-%d}"


class AdmissionInstallation(models.Model):
    """A ValidatingWebhookConfiguration DriftControl wrote into a cluster: where it sends
    requests, and the mode it caps its lanes at (warn: no lane denies there). Kept after
    removal, so that a change can be told to have come while the webhook was there."""

    cluster = models.ForeignKey(
        Cluster, on_delete=models.CASCADE, related_name="admission_installations"
    )
    name = models.CharField(max_length=253)  # the configuration's name
    url = models.URLField(max_length=500)
    mode = models.CharField(max_length=8)  # "warn" | "deny"
    namespaces = models.JSONField(default=list, blank=True)  # those labelled to be matched
    installed_by = models.CharField(max_length=150, blank=True)
    installed_at = models.DateTimeField()
    removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-installed_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} on {self.cluster_id} ({self.mode})"


class AdmissionServer(models.Model):
    """One run of `drift admission serve`: it says it is alive every few seconds, and
    stopped when it stops. Together they say when the webhook could answer."""

    address = models.CharField(max_length=300)  # host:port it listens on
    hostname = models.CharField(max_length=253, blank=True)
    pid = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField()
    seen_at = models.DateTimeField()
    stopped_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["seen_at"], name="admission_server_seen")]

    def __str__(self) -> str:
        return f"admission server {self.address} since {self.started_at:%Y-%m-%d %H:%M}"


class AdmissionDecision(models.Model):
    """One warn, deny or break-glass answer of the webhook (allows are only counted, in
    AdmissionTally): who asked to change what, which rules it broke, how long it took."""

    at = models.DateTimeField()
    cluster = models.ForeignKey(
        Cluster, on_delete=models.CASCADE, related_name="admission_decisions"
    )
    lane = models.CharField(max_length=63, blank=True)
    outcome = models.CharField(max_length=16)  # alignment.admission.decide.OUTCOMES
    rules = models.JSONField(default=list, blank=True)
    message = models.TextField(blank=True)
    user = models.CharField(max_length=253)
    groups = models.JSONField(default=list, blank=True)
    operation = models.CharField(max_length=16)
    api_group = models.CharField(max_length=253, blank=True)
    kind = models.CharField(max_length=100)
    namespace = models.CharField(max_length=63, blank=True)
    name = models.CharField(max_length=253, blank=True)
    subresource = models.CharField(max_length=64, blank=True)
    dry_run = models.BooleanField(default=False)
    uid = models.CharField(max_length=64)  # the AdmissionReview's
    unverified = models.JSONField(default=list, blank=True)  # images queued for the scan
    latency_ms = models.FloatField(default=0)

    class Meta:
        ordering = ["-at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["cluster", "uid"], name="one_decision_per_review")
        ]
        indexes = [
            models.Index(fields=["-at"], name="admission_decision_at"),
            models.Index(fields=["outcome", "-at"], name="admission_decision_outcome"),
        ]

    def __str__(self) -> str:
        return f"{self.outcome} {self.operation} {self.kind} {self.namespace}/{self.name}"


class AdmissionTally(models.Model):
    """Decisions counted per minute, cluster, lane and outcome (allows included), with a
    latency histogram: what the Admission page charts and takes percentiles from."""

    minute = models.DateTimeField()
    cluster = models.ForeignKey(Cluster, on_delete=models.CASCADE, related_name="+")
    lane = models.CharField(max_length=63, blank=True)
    outcome = models.CharField(max_length=16)
    count = models.PositiveIntegerField(default=0)
    dry_runs = models.PositiveIntegerField(default=0)
    latency_sum_ms = models.FloatField(default=0)
    # Counts per bucket of alignment.admission.latency.BOUNDS_MS (the last: above them).
    latency_buckets = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-minute"]
        constraints = [
            models.UniqueConstraint(
                fields=["minute", "cluster", "lane", "outcome"], name="one_tally_per_minute"
            )
        ]

    def __str__(self) -> str:
        return f"{self.count} {self.outcome} at {self.minute:%H:%M} ({self.lane or 'no lane'})"
