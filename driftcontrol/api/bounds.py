"""Bounds on what a client may send: ids and numbers the database can hold, text of a
length a person reads. The API's serializers and filters and the pages' forms share them,
so the browser and the API refuse the same input."""

from __future__ import annotations

from datetime import date
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

# PostgreSQL's bigint, the type of every primary key: a larger id names no row. Checked
# before any query, because SQLite (the embedded mode) raises OverflowError on such a
# number instead of finding nothing, and PostgreSQL compares it as a slow numeric.
MAX_ID = 2**63 - 1

# Comments and reasons are read by people on a page and in the audit trail: 2,000
# characters is a long paragraph, and what the dashboard's forms already allowed.
MAX_TEXT = 2000

# Names of clusters, lanes and policies are DNS labels; a query naming one needs no more.
MAX_NAME = 253

# Dates a client may ask about: rollups exist only since the product ran, and staying a
# year inside the calendar's ends leaves room for "since minus a year" arithmetic.
FIRST_DAY = date(1970, 1, 1)
LAST_DAY = date(9998, 12, 31)
# The same years for the schema: a date or a date-time (its own offset's date) that starts
# with one of 1970 to 9998.
YEARS_PATTERN = r"^(19[7-9][0-9]|[2-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])-"


def id_field(**kwargs: Any) -> serializers.IntegerField:
    """An object's id in a request body: a whole number from 1 to MAX_ID."""
    return serializers.IntegerField(min_value=1, max_value=MAX_ID, **kwargs)


def text_field(**kwargs: Any) -> serializers.CharField:
    """A comment or a reason: at most MAX_TEXT characters."""
    return serializers.CharField(max_length=MAX_TEXT, **kwargs)


@extend_schema_field({"type": "string", "format": "date", "pattern": YEARS_PATTERN})
class DayField(serializers.DateField):
    """A calendar day from FIRST_DAY to LAST_DAY, as the schema says."""


def day_field(**kwargs: Any) -> serializers.DateField:
    """A calendar day from FIRST_DAY to LAST_DAY."""
    limits = f"a day from {FIRST_DAY} to {LAST_DAY}"
    kwargs["help_text"] = f"{kwargs['help_text']}; {limits}" if "help_text" in kwargs else limits
    return DayField(validators=[_within_calendar], **kwargs)


def _within_calendar(day: date) -> None:
    if not FIRST_DAY <= day <= LAST_DAY:
        raise serializers.ValidationError(f"give a day from {FIRST_DAY} to {LAST_DAY}")
