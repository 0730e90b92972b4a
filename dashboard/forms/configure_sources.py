"""The Git source form: its fields as a person types them. It checks only what a browser
could get wrong (lengths, a name's shape); `drift.services.configuration` decides the
rest, and its problems come back here next to the fields they name."""

from __future__ import annotations

from typing import Any

from django import forms

from dashboard.forms.configure import DocumentForm

# Where each field is written in a GitSource document.
SOURCE_PATHS = {
    "metadata.name": "name",
    "spec.url": "url",
    "spec.ref": "ref",
    "spec.path": "path",
    "spec.hookSecret": "hook_secret",
}


class SourceForm(DocumentForm):
    """A Git source: where its manifests are, and the push hook's secret (write-only)."""

    paths = SOURCE_PATHS

    name = forms.CharField(
        max_length=63,
        label="Name",
        help_text="Lowercase letters, digits and '-'; policies name the source by it.",
    )
    url = forms.CharField(
        max_length=500,
        label="Repository URL",
        help_text="https://host/repo.git, ssh://host/repo or git@host:repo.",
    )
    ref = forms.CharField(
        max_length=255,
        required=False,
        label="Ref",
        help_text="A branch, a tag or a commit; empty means main.",
    )
    path = forms.CharField(
        max_length=500,
        required=False,
        label="Path",
        help_text="The directory holding the manifests; empty means the whole repository.",
    )
    hook_secret = forms.CharField(
        max_length=500,
        required=False,
        strip=False,
        label="Push hook secret",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    remove_hook_secret = forms.BooleanField(required=False, label="Remove the hook secret")
    # Which page the test fetch's full-page answer returns to ("" for a new source).
    editing = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, source: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.source = source
        if source is not None:
            # An edit keeps the name: policies refer to the source by it.
            self.fields["name"].disabled = True
            self.fields["name"].help_text = "A source keeps its name: policies refer to it."
            self.fields["hook_secret"].help_text = (
                "Set: leave empty to keep it." if source.hook_secret else "None set."
            )
        else:
            del self.fields["remove_hook_secret"]
            self.fields["hook_secret"].help_text = "Optional: the push hook must then send it."

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("remove_hook_secret") and data.get("hook_secret"):
            self.add_error("hook_secret", "either type a new secret or remove it, not both")
        return data

    def new_secret(self) -> str | None:
        """What the document says of the secret: None keeps it, "" removes it."""
        if self.cleaned_data.get("remove_hook_secret"):
            return ""
        return self.cleaned_data.get("hook_secret") or None


class FetchTrialForm(forms.Form):
    """The fields a test fetch reads: as typed, never saved."""

    url = forms.CharField(max_length=500, label="Repository URL")
    ref = forms.CharField(max_length=255, required=False, label="Ref")
    path = forms.CharField(max_length=500, required=False, label="Path")
