"""Forms of the dashboard's drift pages: triage and remediation actions on findings,
scans on demand, the enforce preview and the trends range. They validate input only;
the services decide what is allowed."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from django import forms
from django.utils import timezone

from drift.models import RemediationStrategy
from drift.models.choices import AutoRemediation
from drift.services.triage import MAX_SUPPRESSION
from driftcontrol.api.bounds import MAX_ID, MAX_TEXT

# More than a page of findings at once is not a selection a person made by hand.
MAX_SELECTION = 500


class FindingIdsField(forms.Field):
    """The ids of the selected findings (checkboxes named `finding`)."""

    widget = forms.MultipleHiddenInput
    default_error_messages = {
        "required": "select at least one finding",
        "invalid": "the selection is not a list of finding ids",
        "too_many": f"select at most {MAX_SELECTION} findings at once",
    }

    def to_python(self, value: Any) -> list[int]:
        if not value:
            return []
        try:
            ids = sorted({int(v) for v in value})
        except (TypeError, ValueError):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from None
        if not all(1 <= i <= MAX_ID for i in ids):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        if len(ids) > MAX_SELECTION:
            raise forms.ValidationError(self.error_messages["too_many"], code="too_many")
        return ids


def default_suppression_end() -> date:
    return timezone.localdate() + timedelta(days=7)


class FindingActionForm(forms.Form):
    """One action on one or more findings: the bulk bar of the list and the buttons of a
    finding's page both post here."""

    ACTIONS = (
        ("acknowledge", "Acknowledge"),
        ("suppress", "Suppress"),
        ("reopen", "Reopen"),
        ("resolve", "Resolve after review"),
        ("remediate", "Request remediation"),
    )

    finding = FindingIdsField(label="Findings")
    action = forms.ChoiceField(choices=ACTIONS)
    comment = forms.CharField(required=False, max_length=MAX_TEXT, label="Comment")
    reason = forms.CharField(required=False, max_length=MAX_TEXT, label="Reason")
    until = forms.DateField(
        required=False,
        label="Suppressed through",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    strategy = forms.ChoiceField(
        choices=RemediationStrategy.choices, initial=RemediationStrategy.SYNC, required=False
    )
    request_reason = forms.CharField(required=False, max_length=MAX_TEXT, label="Reason")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        action = data.get("action")
        if action == "suppress":
            if not (data.get("reason") or "").strip():
                self.add_error("reason", "say why the drift is accepted for now")
            if data.get("until") is None:
                self.add_error("until", "choose the last day of the suppression")
        if action == "remediate" and not data.get("strategy"):
            data["strategy"] = RemediationStrategy.SYNC
        return data

    def suppressed_until(self) -> datetime:
        """The end of the chosen day, in the dashboard's time zone: "through the 7th"
        means the drift is out of the score all of the 7th."""
        day: date = self.cleaned_data["until"]
        start = datetime.combine(day + timedelta(days=1), time.min)
        return timezone.make_aware(start, timezone.get_current_timezone())


def suppression_bounds() -> dict[str, str]:
    """min/max of the date input, so the browser offers only what the service accepts."""
    today = timezone.localdate()
    return {
        "min": today.isoformat(),
        "max": (today + MAX_SUPPRESSION - timedelta(days=1)).isoformat(),
        "default": default_suppression_end().isoformat(),
    }


class TicketForm(forms.Form):
    ticket_id = forms.CharField(max_length=200, required=False, label="Ticket")
    url = forms.URLField(max_length=500, required=False, label="Link", assume_scheme="https")
    unlink = forms.BooleanField(required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not data.get("unlink") and not (data.get("ticket_id") or "").strip():
            self.add_error("ticket_id", "name the ticket (its id in the ticketing system)")
        return data


class ScanRequestForm(forms.Form):
    """A scan of one (policy, cluster) pair, named as `policy/cluster`."""

    pair = forms.CharField(max_length=130)

    def __init__(self, *args: Any, pairs: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pairs = pairs

    def clean_pair(self) -> Any:
        chosen = self.cleaned_data["pair"]
        if chosen not in self.pairs:
            raise forms.ValidationError(
                f"{chosen} is not a policy and a cluster it targets (is either disabled?)"
            )
        return self.pairs[chosen]


class PreviewForm(forms.Form):
    up_to = forms.ChoiceField(
        choices=[c for c in AutoRemediation.choices if c[0] != AutoRemediation.NONE],
        initial=AutoRemediation.MEDIUM,
        label="Auto-remediate up to",
    )
    days = forms.TypedChoiceField(
        choices=[(7, "7 days"), (30, "30 days"), (90, "90 days")],
        coerce=int,
        initial=30,
        label="Over the last",
    )


class RangeForm(forms.Form):
    RANGES = ((7, "7 days"), (30, "30 days"), (90, "90 days"))

    days = forms.TypedChoiceField(choices=RANGES, coerce=int, initial=30, required=False)
    scope = forms.CharField(required=False, max_length=80)

    def range_days(self) -> int:
        if self.is_valid() and self.cleaned_data.get("days"):
            return int(self.cleaned_data["days"])
        return 30
