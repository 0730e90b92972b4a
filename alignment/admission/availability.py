"""Whether the admission webhook could answer a cluster's API server at a given moment.

The webhook fails open: an API server that gets no answer lets the change through. What
it let through is drift the watcher finds, and the finding should say that the webhook
was down then. Two records answer it: the AdmissionInstallation rows (was the webhook
installed on the cluster at that moment?) and the AdmissionServer rows (was a `drift
admission serve` running then: from its start to its stop, or, for one that died without
saying so, until a few heartbeats after it was last seen).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db.models import Q

from alignment.models import AdmissionInstallation, AdmissionServer
from drift.models import Cluster

# A server not seen for this many heartbeats is taken as gone since its last one.
GRACE_HEARTBEATS = 3


def unavailable_at(cluster: Cluster, at: datetime) -> str | None:
    """A sentence when the webhook was installed on the cluster at ``at`` but no `drift
    admission serve` was answering then (no AdmissionServer run covering ``at``:
    started_at <= at <= stopped_at, or seen_at + 3 heartbeats for one that died); None
    when it was up, or not installed."""
    gap = timeline(cluster, at, at).gap(at)
    if gap is None:
        return None
    return f"the admission webhook was installed but not answering ({gap.detail})"


@dataclass(frozen=True)
class Gap:
    """A moment the webhook was installed and nothing answered it."""

    installed_at: datetime
    since: datetime | None  # when a server last answered, if one ever did since then
    at: datetime

    @property
    def detail(self) -> str:
        if self.since is None or self.since < self.installed_at:
            return f"no answer since it was installed at {_clock(self.installed_at, self.at)}"
        return f"no answer since {_clock(self.since, self.at)}"


@dataclass(frozen=True)
class Timeline:
    """The installations and server runs of one cluster around some moments, read once
    so that many moments (every field manager of every finding of a scan) cost two
    queries."""

    installed: tuple[tuple[datetime, datetime | None], ...]  # (installed_at, removed_at)
    runs: tuple[tuple[datetime, datetime, datetime], ...]  # (started, last seen, answered to)

    def installed_at(self, at: datetime) -> datetime | None:
        """When the installation in place at ``at`` was made; None: none was."""
        return next(
            (start for start, end in self.installed if start <= at and (end is None or at < end)),
            None,
        )

    def gap(self, at: datetime) -> Gap | None:
        installed_at = self.installed_at(at)
        if installed_at is None:
            return None
        if any(started <= at <= until for started, _, until in self.runs):
            return None
        before = [seen for started, seen, _ in self.runs if started <= at and seen <= at]
        return Gap(installed_at, max(before, default=None), at)


def timeline(cluster: Cluster, start: datetime, end: datetime) -> Timeline:
    """What the records say of the webhook on the cluster between ``start`` and ``end``."""
    installed = AdmissionInstallation.objects.filter(
        Q(removed_at__isnull=True) | Q(removed_at__gt=start),
        cluster=cluster,
        installed_at__lte=end,
    ).values_list("installed_at", "removed_at")
    if not installed:
        return Timeline((), ())
    grace = timedelta(seconds=GRACE_HEARTBEATS * settings.ADMISSION_HEARTBEAT_SECONDS)
    runs = AdmissionServer.objects.filter(
        Q(stopped_at__gte=start) | Q(stopped_at__isnull=True, seen_at__gte=start - grace),
        started_at__lte=end,
    ).values_list("started_at", "seen_at", "stopped_at")
    found = [_run(started, seen, stopped, grace) for started, seen, stopped in runs]
    # The last run that ended before the window, for "no answer since".
    last = (
        AdmissionServer.objects.filter(started_at__lte=start, seen_at__lt=start)
        .order_by("-seen_at")
        .values_list("started_at", "seen_at", "stopped_at")
        .first()
    )
    if last is not None:
        found.append(_run(*last, grace))
    return Timeline(tuple(installed), tuple(found))


def _run(
    started: datetime, seen: datetime, stopped: datetime | None, grace: timedelta
) -> tuple[datetime, datetime, datetime]:
    """(started, last known to answer, answered until) of one server run."""
    if stopped is not None:
        return started, stopped, stopped
    return started, seen, seen + grace


def _clock(moment: datetime, beside: datetime) -> str:
    """A moment in UTC, by the clock alone when it is the same day as ``beside``."""
    moment, beside = moment.astimezone(UTC), beside.astimezone(UTC)
    if moment.date() == beside.date():
        return f"{moment:%H:%M:%S} UTC"
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC"
