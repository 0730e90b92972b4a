"""Each signed-in person sees the pages in the time zone they chose (their Preferences),
everyone else in the server's TIME_ZONE.

The zone is kept in the session with the user it belongs to, so a page costs no query for
it: the first request of a session reads Preferences once, and the Account page writes
the new choice into the session that made it. Another browser signed in as the same
person keeps the zone it read until that session signs in again.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from itertools import groupby
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from driftcontrol.models.preferences import known_time_zones
from driftcontrol.services.preferences import time_zone_of

SESSION_KEY = "driftcontrol_time_zone"
# The API's answers are ISO 8601 in UTC whoever asks (DRF writes moments in the active
# zone), so a session that also calls the API must not move them.
UNZONED_PREFIXES = ("/api/",)
# The areas of the tz database's canonical names; the rest are aliases kept for old
# systems (US/Eastern, Etc/GMT+5), accepted when typed but not offered.
AREAS = (
    "Africa", "America", "Antarctica", "Arctic", "Asia", "Atlantic", "Australia", "Europe",
    "Indian", "Pacific",
)  # fmt: skip


def zone_named(name: str) -> zoneinfo.ZoneInfo | None:
    """The zone called `name`, or None (the server's) for blank or a name no longer known:
    a tz database update that drops a name must not break anyone's pages."""
    if not name or name not in known_time_zones():
        return None
    return zoneinfo.ZoneInfo(name)


def zone_choices(current: str = "") -> list[tuple[str, Any]]:
    """UTC, then the canonical zones grouped by area (the <optgroup>s of a select), and
    the current choice even when it is an alias not otherwise offered."""
    listed = sorted(
        name for name in known_time_zones() if name.partition("/")[0] in AREAS and "/" in name
    )
    grouped: list[tuple[str, Any]] = [("UTC", "UTC")]
    if current and current != "UTC" and current not in listed:
        grouped.append((current, current))
    for area, names in groupby(listed, key=lambda name: name.partition("/")[0]):
        grouped.append((area, [(name, name.replace("_", " ")) for name in names]))
    return grouped


def remember(request: HttpRequest, name: str) -> None:
    """Keep the user's zone for the rest of the session and use it for this response."""
    request.session[SESSION_KEY] = [request.user.pk, name]
    _activate(name)


def _activate(name: str) -> None:
    zone = zone_named(name)
    if zone is None:
        timezone.deactivate()
    else:
        timezone.activate(zone)


def _chosen_zone(request: HttpRequest) -> str:
    """The signed-in user's zone name ("" for the server's), from the session when it
    holds theirs, else from their Preferences row (then kept in the session)."""
    kept = request.session.get(SESSION_KEY)
    if isinstance(kept, list) and len(kept) == 2 and kept[0] == request.user.pk:
        return str(kept[1])
    name = time_zone_of(request.user)
    request.session[SESSION_KEY] = [request.user.pk, name]
    return name


class UserTimeZoneMiddleware:
    """Activates the signed-in user's time zone for the request (after authentication)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        zoned = not request.path_info.startswith(UNZONED_PREFIXES) and request.user.is_authenticated
        _activate(_chosen_zone(request) if zoned else "")
        try:
            return self.get_response(request)
        finally:
            # The active zone is per thread: the next request served here starts clean.
            timezone.deactivate()
