from __future__ import annotations

from django.core.validators import RegexValidator
from django.db import models

from drift.engine import admission_terms, requirements, rules, supply_terms
from drift.models.validation import raise_problems
from driftcontrol.crypto import SealedTextField, seal, unseal

# Kubernetes-style names: they appear in URLs, CLI arguments and YAML documents.
dns_label = RegexValidator(
    r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$",
    "use lowercase letters, digits and '-', starting and ending with a letter or digit "
    "(at most 63 characters)",
)


LANE_LISTS = ("namespaces", "identities", "branches", "registries", "service_accounts", "secrets")


class Lane(models.Model):
    """A delivery lane (e.g. fast, controlled) owning namespaces, identities and branches."""

    name = models.CharField(max_length=63, unique=True, validators=[dns_label])
    description = models.TextField(blank=True)
    namespaces = models.JSONField(default=list, blank=True, help_text="namespace globs")
    identities = models.JSONField(
        default=list, blank=True, help_text="deployer users and service accounts"
    )
    branches = models.JSONField(default=list, blank=True, help_text="Git branches")
    # What the lane's workloads may use (alignment's lane rules); empty: not restricted.
    registries = models.JSONField(
        default=list, blank=True, help_text="image registry prefixes its workloads may pull from"
    )
    service_accounts = models.JSONField(
        default=list, blank=True, help_text="service account name globs its workloads may run as"
    )
    secrets = models.JSONField(
        default=list, blank=True, help_text="Secret name globs its workloads may use"
    )
    # The guardrails its namespaces must carry (alignment's `policy.*` rules); see
    # alignment.rules.requires for the keys. Empty: nothing required.
    requires = models.JSONField(default=dict, blank=True)
    # What its images must prove (alignment's `supply.*` rules): requireDigest, signers,
    # provenance, as drift.engine.supply_terms describes them. Empty: nothing required.
    supply = models.JSONField(default=dict, blank=True)
    # How its admission webhook treats changes (mode, breakGlassGroups), as
    # drift.engine.admission_terms describes them. Empty: mode off, nothing prevented.
    admission = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        problems: dict[str, list[rules.Problem]] = {}
        for field in LANE_LISTS:
            found: list[rules.Problem] = []
            rules.string_list(getattr(self, field), field, found)
            problems[field] = found
        problems["requires"] = requirements.problems(self.requires, "requires")
        problems["supply"] = supply_terms.problems(self.supply, "supply")
        problems["admission"] = admission_terms.problems(self.admission, "admission")
        raise_problems(problems)


class Cluster(models.Model):
    """A Kubernetes cluster: where to reach it, its credentials (sealed), lanes and labels."""

    name = models.CharField(max_length=63, unique=True, validators=[dns_label])
    labels = models.JSONField(default=dict, blank=True)
    lanes = models.ManyToManyField(Lane, blank=True, related_name="clusters")
    api_server_url = models.URLField(max_length=300, blank=True)
    context = models.CharField(
        max_length=253, blank=True, help_text="kubeconfig context to use; its current one if empty"
    )
    credentials = SealedTextField(help_text="the kubeconfig, encrypted; never shown")
    enabled = models.BooleanField(default=True)
    last_contact_at = models.DateTimeField(null=True, blank=True)
    server_version = models.CharField(max_length=64, blank=True)
    last_error = models.TextField(blank=True)
    # SHA-256 of the bearer token its API server's audit webhook presents to
    # /hooks/audit/<cluster>; empty: no audit feed accepted.
    audit_token_digest = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        labels = self.labels
        if not isinstance(labels, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in labels.items()
        ):
            raise_problems({"labels": [rules.Problem("labels", "must map names to strings")]})

    @property
    def has_credentials(self) -> bool:
        return bool(self.credentials)

    def set_credentials(self, kubeconfig: str) -> None:
        self.credentials = seal(kubeconfig) if kubeconfig else ""

    def read_credentials(self) -> str:
        """The decrypted kubeconfig; only the Kubernetes door should call this."""
        return (
            unseal(self.credentials, f"credentials of cluster {self.name}")
            if self.credentials
            else ""
        )
