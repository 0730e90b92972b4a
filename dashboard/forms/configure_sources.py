"""The Git source form: its fields as a person types them. It checks only what a browser
could get wrong (lengths, a name's shape); `drift.services.configuration` decides the
rest, and its problems come back here next to the fields they name."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import forms

from driftcontrol.exceptions import FieldProblem

# Where each field is written in a GitSource document.
DOCUMENT_PATHS = {
    "metadata.name": "name",
    "spec.url": "url",
    "spec.ref": "ref",
    "spec.path": "path",
    "spec.hookSecret": "hook_secret",
}


class DescribedForm(forms.Form):
    """A form whose inputs name their hint and their errors (aria-describedby) and say
    when they are invalid, so a screen reader reads the error with the field."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            if field.help_text:
                field.widget.attrs["aria-describedby"] = f"{self[name].auto_id}-hint"

    def add_error(self, field: str | None, error: Any) -> None:
        super().add_error(field, error)
        for name in self.errors:
            if name not in self.fields:
                continue
            attrs, bound = self.fields[name].widget.attrs, self[name]
            ids = [f"{bound.auto_id}-error"] + (
                [f"{bound.auto_id}-hint"] if self.fields[name].help_text else []
            )
            attrs.update({"aria-invalid": "true", "aria-describedby": " ".join(ids)})

    def add_problems(self, problems: Iterable[FieldProblem], paths: dict[str, str]) -> None:
        """Put each problem next to the field its path names; the rest above the form."""
        for problem in problems:
            field = paths.get(problem.path)
            if field in self.fields and not self.fields[field].disabled:
                self.add_error(field, problem.message)
            else:
                self.add_error(None, f"{problem.path}: {problem.message}")


class SourceForm(DescribedForm):
    """A Git source: where its manifests are, and the push hook's secret (write-only)."""

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
        # Its hint depends on the source, so it was not there for DescribedForm to name.
        self.fields["hook_secret"].widget.attrs["aria-describedby"] = (
            f"{self['hook_secret'].auto_id}-hint"
        )

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
