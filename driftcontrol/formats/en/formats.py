"""Dates as the dashboard shows them, for the "en" locales (LANGUAGE_CODE is en-us).

ISO-like order, so a moment reads the same to everyone and sorts as text, and always with
the zone it is shown in ("UTC", "EST", "CEST", or an offset like "+04" where the zone has
no abbreviation): people compare these times with logs and with colleagues elsewhere.
Anything not set here (numbers, input formats) falls back to Django's "en" module.
"""

DATETIME_FORMAT = "Y-m-d H:i T"
# The same: a shorter moment would drop the zone or the year, and the pages show one format.
SHORT_DATETIME_FORMAT = DATETIME_FORMAT
# Days alone (trend axes, suppression ends, token expiry) carry no zone: a day is the
# viewer's calendar day.
DATE_FORMAT = "Y-m-d"
SHORT_DATE_FORMAT = DATE_FORMAT
