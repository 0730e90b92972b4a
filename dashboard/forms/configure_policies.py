"""The policy editor's form: the DriftPolicy document as YAML text. Reading and checking
the text is `drift.services.policy_documents`' job; this only bounds its size."""

from __future__ import annotations

from django import forms

# A policy is a few kilobytes; this leaves room for long rule lists and comments.
MAX_DOCUMENT = 256 << 10


class PolicyDocumentForm(forms.Form):
    document = forms.CharField(
        max_length=MAX_DOCUMENT,
        strip=False,
        label="Policy document (YAML)",
        widget=forms.Textarea(
            attrs={
                "rows": 30,
                "spellcheck": "false",
                "autocapitalize": "off",
                "class": "mono",
                # Its hint, and the panel that lists the problems Validate and Save find.
                "aria-describedby": "id_document-hint validation",
            }
        ),
    )
    # Which page a fallback answer (validate or dry run without htmx) returns to.
    editing = forms.CharField(required=False, max_length=63, widget=forms.HiddenInput)
