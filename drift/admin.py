from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin

from drift import git, kube
from drift.models import Cluster, DriftPolicy, Finding, GitSource, Lane, ObjectSnapshot, Scan
from drift.services import clusters
from driftcontrol.admin import AuditedAdmin, ReadOnlyAdmin


@admin.register(Lane)
class LaneAdmin(AuditedAdmin):
    list_display = ["name", "namespaces", "branches"]
    search_fields = ["name"]


class WriteOnlyTextarea(forms.Textarea):
    """A textarea that never renders a value, not even the one sent with a refused form."""

    def format_value(self, value: Any) -> None:
        return None


class ClusterForm(forms.ModelForm):
    """Credentials are write-only: the form never renders them; empty keeps what is stored.
    As through the API and `drift apply`, a kubeconfig that asks for a command to run or a
    file to read beyond what the server's configuration allows is refused."""

    new_credentials = forms.CharField(
        label="Kubeconfig",
        required=False,
        strip=False,
        widget=WriteOnlyTextarea(attrs={"rows": 6, "autocomplete": "off", "spellcheck": "false"}),
        help_text="Paste a kubeconfig to replace the stored one. Leave empty to keep it. "
        "Stored encrypted; never shown again.",
    )
    clear_credentials = forms.BooleanField(required=False, label="Remove stored credentials")
    api_server_url = forms.URLField(
        assume_scheme="https", required=False, max_length=300, label="API server URL"
    )

    class Meta:
        model = Cluster
        fields = ["name", "labels", "lanes", "api_server_url", "context", "enabled"]

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        if cleaned.get("clear_credentials"):
            return cleaned
        kubeconfig = cleaned.get("new_credentials") or (
            self.instance.read_credentials() if self.instance.has_credentials else ""
        )
        if kubeconfig:
            try:
                clusters.inspect_kubeconfig(kubeconfig)
            except kube.BadKubeconfig as error:
                self.add_error("new_credentials", list(error.problems))
        return cleaned

    def save(self, commit: bool = True) -> Any:
        cluster = super().save(commit=False)
        if self.cleaned_data.get("clear_credentials"):
            cluster.set_credentials("")
        elif self.cleaned_data.get("new_credentials"):
            cluster.set_credentials(self.cleaned_data["new_credentials"])
        if commit:
            cluster.save()
            self.save_m2m()
        return cluster


@admin.register(Cluster)
class ClusterAdmin(AuditedAdmin):
    form = ClusterForm
    list_display = [
        "name",
        "api_server_url",
        "server_version",
        "last_contact_at",
        "enabled",
        "has_credentials",
    ]
    list_filter = ["enabled", "lanes"]
    search_fields = ["name", "api_server_url"]
    readonly_fields = ["server_version", "last_contact_at", "last_error"]

    @admin.display(boolean=True, description="credentials")
    def has_credentials(self, cluster: Cluster) -> bool:
        return cluster.has_credentials


class GitSourceForm(forms.ModelForm):
    """The same rules as `drift apply`: a source names only repositories this server may
    read, and refs and paths that cannot become git options or leave the repository."""

    class Meta:
        model = GitSource
        fields = ["name", "url", "ref", "path"]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        found = git.source_problems(
            data.get("url") or "",
            data.get("ref") or "main",
            data.get("path") or "",
            git.configured_roots(),
        )
        for field, problem in found.items():
            self.add_error(field, problem)
        return data


@admin.register(GitSource)
class GitSourceAdmin(AuditedAdmin):
    form = GitSourceForm
    list_display = ["name", "url", "ref", "path", "last_revision", "last_fetched_at"]
    search_fields = ["name", "url"]
    readonly_fields = ["last_revision", "last_fetched_at", "last_error"]


@admin.register(DriftPolicy)
class DriftPolicyAdmin(AuditedAdmin):
    list_display = [
        "name",
        "source",
        "mode",
        "strategy",
        "auto_remediate_up_to",
        "interval_seconds",
        "enabled",
    ]
    list_filter = ["mode", "strategy", "enabled"]
    search_fields = ["name"]


@admin.register(Scan)
class ScanAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "policy",
        "cluster",
        "status",
        "trigger",
        "created_at",
        "partial",
        "findings_open",
    ]
    list_filter = ["status", "trigger", "partial"]
    list_select_related = ["policy", "cluster"]


@admin.register(Finding)
class FindingAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "cluster",
        "kind",
        "namespace",
        "name",
        "type",
        "severity",
        "status",
        "seen",
    ]
    list_filter = ["status", "severity", "type", "cluster"]
    search_fields = ["name", "namespace", "kind"]
    list_select_related = ["cluster"]

    @admin.display(description="last seen", ordering="last_seen")
    def seen(self, finding: Finding) -> object:
        return finding.last_seen


@admin.register(ObjectSnapshot)
class ObjectSnapshotAdmin(ReadOnlyAdmin):
    list_display = ["cluster", "kind", "namespace", "name", "reason", "taken_at"]
    list_filter = ["reason", "cluster"]
    search_fields = ["name", "namespace"]
