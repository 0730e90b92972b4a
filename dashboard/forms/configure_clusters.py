"""The cluster and lane forms: their fields as a person types them (labels as key=value
lines, lists one per line, the kubeconfig as a file or pasted). They check only what a
browser could get wrong; `drift.services.configuration` decides the rest, and its
problems come back here next to the fields their document paths name (DocumentForm)."""

from __future__ import annotations

from typing import Any

from django import forms

from dashboard.forms.configure import DocumentForm
from drift.declarative import API_VERSION
from drift.engine.admission_terms import DEFAULT_MODE
from drift.engine.requirements import POD_SECURITY_LEVELS
from drift.models import Cluster, Lane
from driftcontrol.api.bounds import MAX_TEXT

# Kubeconfigs are a few kilobytes, tens with certificates inline.
MAX_KUBECONFIG = 256 * 1024
CHOOSE_AGAIN = "The file you chose was not kept: choose it again (or paste its content)."

CLUSTER_PATHS = {
    "metadata.name": "name",
    "metadata.labels": "labels",
    "spec.lanes": "lanes",
    "spec.context": "context",
    "spec.enabled": "enabled",
    "spec.kubeconfig": "kubeconfig",
}
# The lane's `requires` (drift.engine.requirements): form field -> document key.
REQUIRES_FIELDS = {
    "pod_security": "podSecurity",
    "default_deny": "defaultDenyNetworkPolicy",
    "resource_quota": "resourceQuota",
    "limit_range": "limitRange",
    "kyverno_policies": "kyvernoPolicies",
    "gatekeeper_constraints": "gatekeeperConstraints",
    "no_wildcard_roles": "noWildcardRoles",
    "no_cluster_admin": "noClusterAdmin",
}
REQUIRES_LINES = ("kyverno_policies", "gatekeeper_constraints")
LANE_PATHS = {
    "metadata.name": "name",
    "spec.description": "description",
    "spec.namespaces": "namespaces",
    "spec.identities": "identities",
    "spec.branches": "branches",
    "spec.registries": "registries",
    "spec.serviceAccounts": "service_accounts",
    "spec.secrets": "secrets",
    **{f"spec.requires.{key}": name for name, key in REQUIRES_FIELDS.items()},
    "spec.requireDigest": "require_digest",
    "spec.admission": "admission_mode",
    "spec.admission.mode": "admission_mode",
    "spec.admission.breakGlassGroups": "break_glass_groups",
}
# The lane's one-per-line fields, and their document keys.
LANE_LINES = {
    "namespaces": "namespaces",
    "identities": "identities",
    "branches": "branches",
    "registries": "registries",
    "service_accounts": "serviceAccounts",
    "secrets": "secrets",
}


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _lines_field(label: str, hint: str) -> forms.CharField:
    """A list typed one item per line (names, not prose: no spelling marks)."""
    return forms.CharField(
        required=False,
        max_length=MAX_TEXT,
        label=label,
        help_text=hint,
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}),
    )


def _document(kind: str, name: str, spec: dict[str, Any], **metadata: Any) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": kind,
        "metadata": {"name": name, **metadata},
        "spec": spec,
    }


class ConfigurationForm(DocumentForm):
    """One configuration object's form; an edit keeps the object's name."""

    name = forms.CharField(
        max_length=63,
        label="Name",
        help_text="Lowercase letters, digits and '-'; it cannot be changed later.",
    )
    # Which object the connection test's full-page answer returns to ("" for a new one).
    editing = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, editing: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.editing = editing
        self.initial["editing"] = editing
        if editing:
            del self.fields["name"]

    def object_name(self) -> str:
        return self.editing or str(self.cleaned_data.get("name") or "")


class ClusterForm(ConfigurationForm):
    """A cluster: its labels, lanes, context, and kubeconfig (write-only)."""

    paths = CLUSTER_PATHS

    labels = _lines_field(
        "Labels", "One key=value per line, e.g. env=prod. Policies choose clusters by them."
    )
    lanes = forms.MultipleChoiceField(
        required=False,
        label="Lanes",
        widget=forms.CheckboxSelectMultiple,
        help_text="The lanes of change that deliver to this cluster.",
    )
    context = forms.CharField(
        max_length=253,
        required=False,
        label="Context",
        help_text="The kubeconfig context to use; empty uses its current context.",
    )
    enabled = forms.BooleanField(required=False, initial=True, label="Enabled: scan it")
    kubeconfig_file = forms.FileField(required=False, label="Kubeconfig file")
    kubeconfig = forms.CharField(
        required=False,
        strip=False,
        max_length=MAX_KUBECONFIG,
        label="Or paste the kubeconfig",
        widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false", "autocomplete": "off"}),
    )

    def __init__(self, *args: Any, cluster: Cluster | None = None, **kwargs: Any) -> None:
        super().__init__(*args, editing=cluster.name if cluster else "", **kwargs)
        self.fields["lanes"].choices = [(n, n) for n in Lane.objects.values_list("name", flat=True)]
        keep = "Leave both empty to keep the stored kubeconfig, which is never shown."
        first = "Stored encrypted, never shown again. Needed for a new cluster."
        self.fields["kubeconfig"].help_text = keep if cluster and cluster.has_credentials else first
        if self.files.get("kubeconfig_file"):
            # A browser never fills a file input back in: say so wherever the form returns.
            self.fields["kubeconfig_file"].help_text = CHOOSE_AGAIN
        if cluster is not None and not self.is_bound:
            self.initial |= {
                "labels": "\n".join(f"{k}={v}" for k, v in cluster.labels.items()),
                "lanes": [lane.name for lane in cluster.lanes.all()],
                "context": cluster.context,
                "enabled": cluster.enabled,
            }

    def clean_labels(self) -> dict[str, str]:
        labels: dict[str, str] = {}
        for number, line in enumerate(self.cleaned_data["labels"].splitlines(), start=1):
            if not line.strip():
                continue
            key, equals, value = line.strip().partition("=")
            if not equals or not key.strip():
                raise forms.ValidationError(f"line {number}: write key=value")
            if key.strip() in labels:
                raise forms.ValidationError(f"line {number}: {key.strip()} is given twice")
            labels[key.strip()] = value.strip()
        return labels

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        upload, pasted = data.get("kubeconfig_file"), data.get("kubeconfig") or ""
        if upload and pasted.strip():
            self.add_error("kubeconfig", "give the kubeconfig once: a file or pasted text")
        elif upload:
            data["kubeconfig_content"] = self._read(upload)
        elif pasted.strip():
            data["kubeconfig_content"] = self._content(pasted)
        return data

    def _read(self, upload: Any) -> str | None:
        if upload.size > MAX_KUBECONFIG:
            self.add_error("kubeconfig_file", f"is larger than {MAX_KUBECONFIG // 1024} KB")
            return None
        try:
            text = upload.read().decode("utf-8")
        except UnicodeDecodeError:
            self.add_error("kubeconfig_file", "is not a kubeconfig (YAML text in UTF-8)")
            return None
        return self._content(text, "kubeconfig_file")

    def _content(self, text: str, field: str = "kubeconfig") -> str | None:
        # One line would be read as a path, making the server read one of its own files.
        if "\n" not in text.strip():
            self.add_error(field, "give the kubeconfig's content (YAML), not a file path")
            return None
        return text

    def kubeconfig_problem(self) -> str:
        """Why the kubeconfig given cannot be tested ("" when it can, or none was given)."""
        errors = [*self.errors.get("kubeconfig_file", []), *self.errors.get("kubeconfig", [])]
        return " ".join(str(error) for error in errors)

    def given_kubeconfig(self) -> str | None:
        """The kubeconfig uploaded or pasted; None keeps (or tests) the stored one."""
        return self.cleaned_data.get("kubeconfig_content")

    def kubeconfig_to_test(self) -> str | None:
        """The kubeconfig given; else None, the stored one, when editing ("" when adding)."""
        given = self.given_kubeconfig()
        return given if given is not None or self.editing else ""

    def document(self) -> dict[str, Any]:
        data = self.cleaned_data
        spec: dict[str, Any] = {
            "context": data.get("context", ""),
            "lanes": list(data.get("lanes", [])),
            "enabled": bool(data.get("enabled")),
        }
        if self.given_kubeconfig() is not None:
            spec["kubeconfig"] = self.given_kubeconfig()
        return _document("Cluster", self.object_name(), spec, labels=data.get("labels", {}))


class LaneForm(ConfigurationForm):
    """A lane: what it owns. Its clusters join it on their own form (`spec.lanes`)."""

    paths = LANE_PATHS

    description = forms.CharField(
        required=False,
        max_length=MAX_TEXT,
        label="Description",
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    namespaces = _lines_field("Namespaces", "One per line; globs like shop-* work.")
    identities = _lines_field(
        "Identities", "The users and service accounts that deploy this lane, one per line."
    )
    branches = _lines_field("Branches", "The Git branches it delivers from, one per line.")
    registries = _lines_field(
        "Image registries",
        "Prefixes its workloads may pull images from, one per line, like "
        "registry.example.com/shop/. Empty: any.",
    )
    service_accounts = _lines_field(
        "Service accounts", "Names (globs) its workloads may run as, one per line. Empty: any."
    )
    secrets = _lines_field(
        "Secrets", "Names (globs) of the Secrets its workloads may use, one per line. Empty: any."
    )
    # What its namespaces must carry (alignment's policy.* rules).
    pod_security = forms.ChoiceField(
        required=False,
        label="Pod Security level, at least",
        choices=[("", "Not required"), *((level, level) for level in POD_SECURITY_LEVELS)],
        help_text="The pod-security.kubernetes.io/enforce label each namespace must carry.",
    )
    default_deny = forms.BooleanField(
        required=False, label="A default-deny NetworkPolicy in each namespace"
    )
    resource_quota = forms.BooleanField(required=False, label="A ResourceQuota in each namespace")
    limit_range = forms.BooleanField(required=False, label="A LimitRange in each namespace")
    kyverno_policies = _lines_field(
        "Kyverno policies",
        "Present, enforcing and ready; one per line: a ClusterPolicy's name, or "
        "namespace/name for a Policy.",
    )
    gatekeeper_constraints = _lines_field(
        "Gatekeeper constraints",
        "Present, enforcing (deny) and enforced; one per line as Kind/name, like "
        "K8sRequiredLabels/owner-label.",
    )
    no_wildcard_roles = forms.BooleanField(
        required=False, label="No wildcard verbs or resources in its Roles"
    )
    no_cluster_admin = forms.BooleanField(
        required=False, label="cluster-admin never bound to its deployers"
    )
    require_digest = forms.BooleanField(
        required=False,
        label="Images pinned by digest (name@sha256:...)",
        help_text="Signers and provenance are set in the Lane document (drift apply, the API).",
    )
    # How its admission webhook treats changes (drift.engine.admission_terms).
    admission_mode = forms.ChoiceField(
        required=False,
        label="Admission mode",
        choices=[
            ("off", "Off: prevent nothing"),
            ("warn", "Warn: allow, and kubectl shows the warning"),
            ("deny", "Deny: refuse changes that break its rules"),
        ],
        initial=DEFAULT_MODE,
        help_text="Changes to its Git-managed objects by others than its deployers, and "
        "changes breaking its rules.",
    )
    break_glass_groups = _lines_field(
        "Break-glass groups",
        "Groups whose members may still change its Git-managed objects, one per line, like "
        "sre-oncall: allowed, and raised as a lane.break-glass finding for review.",
    )

    def __init__(self, *args: Any, lane: Lane | None = None, **kwargs: Any) -> None:
        super().__init__(*args, editing=lane.name if lane else "", **kwargs)
        # The signers and provenance the form does not show are kept as they are.
        self.supply = dict(lane.supply or {}) if lane is not None else {}
        self.admission = dict(lane.admission or {}) if lane is not None else {}
        if lane is not None and not self.is_bound:
            self.initial |= {
                "description": lane.description,
                **{name: "\n".join(getattr(lane, name)) for name in LANE_LINES},
                **_requires_initial(lane.requires or {}),
                "require_digest": bool(self.supply.get("requireDigest")),
                "admission_mode": self.admission.get("mode", DEFAULT_MODE),
                "break_glass_groups": "\n".join(self.admission.get("breakGlassGroups") or []),
            }

    def document(self) -> dict[str, Any]:
        data = self.cleaned_data
        spec = {
            "description": data.get("description", ""),
            **{key: _lines(data.get(name, "")) for name, key in LANE_LINES.items()},
        }
        requires: dict[str, Any] = {}
        for name, key in REQUIRES_FIELDS.items():
            value = data.get(name)
            value = _lines(value or "") if name in REQUIRES_LINES else value
            if value:
                requires[key] = value
        supply = {**self.supply, "requireDigest": bool(data.get("require_digest"))}
        spec |= {"requires": requires, **supply, "admission": self._admission()}
        return _document("Lane", self.object_name(), spec)

    def _admission(self) -> dict[str, Any]:
        """The admission terms as the form sets them; keys it does not show are kept."""
        data = self.cleaned_data
        admission = {**self.admission, "mode": data.get("admission_mode") or DEFAULT_MODE}
        groups = _lines(data.get("break_glass_groups") or "")
        if groups:
            admission["breakGlassGroups"] = groups
        else:
            admission.pop("breakGlassGroups", None)
        return admission


def _requires_initial(requires: dict[str, Any]) -> dict[str, Any]:
    return {
        name: "\n".join(requires.get(key) or []) if name in REQUIRES_LINES else requires.get(key)
        for name, key in REQUIRES_FIELDS.items()
    }
