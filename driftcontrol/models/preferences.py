"""What each person chooses for themselves: for now, the time zone pages show moments in."""

from __future__ import annotations

import zoneinfo
from functools import cache

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models


@cache
def known_time_zones() -> frozenset[str]:
    """The IANA zone names this server's tz database knows (read from disk once).

    Less "localtime" (whatever /etc/localtime is on the machine that answers) and
    "Factory" (a placeholder whose abbreviation is "-00"): neither is a place."""
    return frozenset(zoneinfo.available_timezones() - {"localtime", "Factory"})


def validate_time_zone(name: str) -> None:
    """Blank (the server's zone) or a zone the tz database knows, spelled as it spells it."""
    if name and name not in known_time_zones():
        raise ValidationError(
            "%(name)s is not a time zone this server knows: pick an IANA name such as "
            "Europe/Berlin or America/New_York, or leave it empty for the server's zone.",
            code="unknown_time_zone",
            params={"name": name},
        )


class Preferences(models.Model):
    """One user's display choices; no row means every default."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="preferences"
    )
    # Blank follows the server's TIME_ZONE, so changing that setting moves everyone who
    # never chose, instead of freezing today's value into their row.
    time_zone = models.CharField(
        max_length=64,
        blank=True,
        validators=[validate_time_zone],
        help_text="IANA time zone pages are shown in; empty: the server's",
    )

    class Meta:
        verbose_name_plural = "preferences"

    def __str__(self) -> str:
        return f"{self.user} preferences"
