"""Forms of the remediation pages: decisions and cancellations, each with its comment."""

from __future__ import annotations

from django import forms

from driftcontrol.api.bounds import MAX_TEXT
from remediation.models import RequestStatus


class ApproveForm(forms.Form):
    comment = forms.CharField(required=False, max_length=MAX_TEXT, label="Comment")


class RejectForm(forms.Form):
    comment = forms.CharField(
        max_length=MAX_TEXT,
        label="Why reject",
        error_messages={"required": "say why: a rejection needs a comment"},
    )


class CancelForm(forms.Form):
    comment = forms.CharField(required=False, max_length=MAX_TEXT, label="Comment")


class RequestFilterForm(forms.Form):
    status = forms.MultipleChoiceField(choices=RequestStatus.choices, required=False)
    cluster = forms.CharField(required=False, max_length=63)
