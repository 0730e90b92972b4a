"""The Account page's form: the time zone pages are shown in."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings

from driftcontrol.timezones import zone_choices


class TimeZoneForm(forms.Form):
    # A CharField with a select, not a ChoiceField: the service decides what a zone is
    # (any name the tz database knows, aliases included) and says why it refuses one.
    time_zone = forms.CharField(
        required=False,
        max_length=64,
        label="Time zone",
        help_text="Every date on the pages is shown in this zone, with its abbreviation.",
    )

    def __init__(self, *args: Any, current: str = "", **kwargs: Any) -> None:
        super().__init__(*args, initial={"time_zone": current}, **kwargs)
        server_default = ("", f"The server's zone ({settings.TIME_ZONE})")
        self.fields["time_zone"].widget = forms.Select(
            choices=[server_default, *zone_choices(current)]
        )
