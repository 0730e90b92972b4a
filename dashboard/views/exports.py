"""CSV exports for people who take figures away: any findings list as filtered on screen,
and the daily rollups behind the trends page. Streamed, so a million rows never sit in
memory, and safe to open in a spreadsheet."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models.fields.json import KeyTransform
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, StreamingHttpResponse
from django.utils import timezone

from dashboard.forms.drift import RangeForm
from dashboard.views.base import dashboard
from dashboard.views.findings import list_params, ordered
from drift.filters import FindingFilter
from drift.models import DailyRollup, Finding

FINDING_COLUMNS = [
    "id", "severity", "status", "type", "cluster", "policy", "api_version", "kind",
    "namespace", "name", "paths", "first_seen", "last_seen", "resolved_at", "occurrences",
    "ticket_id", "ticket_url", "url",
]  # fmt: skip
ROLLUP_COLUMNS = [
    "day", "scope", "name", "score", "objects_in_scope", "open_critical", "open_high",
    "open_medium", "open_low", "open_info", "opened", "resolved", "mttd_median_seconds",
    "mttd_p90_seconds", "mttr_median_seconds", "mttr_p90_seconds", "generated",
]  # fmt: skip
# A cell starting with one of these is a formula to a spreadsheet: a finding's name or a
# ticket id chosen by someone else must not run in the reader's spreadsheet (OWASP's
# "CSV injection"), so such cells are prefixed with a quote.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class _Echo:
    """A file-like object whose write() returns the line instead of storing it."""

    def write(self, value: str) -> str:
        return value


def _safe(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _stream(columns: list[str], rows: Iterable[list[Any]], filename: str) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())

    def lines() -> Iterator[str]:
        yield writer.writerow(columns)
        for row in rows:
            yield writer.writerow([_safe(value) for value in row])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="{filename}-{stamp}.csv"'
    return response


def _iso(moment: Any) -> str:
    return moment.isoformat() if moment else ""


def _finding_row(finding: Finding, base: str) -> list[Any]:
    return [
        finding.pk, finding.severity, finding.status, finding.type, finding.cluster.name,
        finding.policy.name if finding.policy else "", finding.api_version, finding.kind,
        finding.namespace, finding.name, "; ".join(finding.drift_paths or []),  # type: ignore[attr-defined]
        _iso(finding.first_seen), _iso(finding.last_seen), _iso(finding.resolved_at),
        finding.occurrences, finding.ticket_id, finding.ticket_url,
        f"{base}/findings/{finding.pk}/",
    ]  # fmt: skip


def _refused(errors: Any) -> HttpResponse:
    """An export of more than was asked for is worse than none: a bad filter is a 400."""
    problems = "; ".join(f"{field}: {' '.join(e)}" for field, e in errors.items())
    return HttpResponseBadRequest(
        f"Nothing exported: {problems}", content_type="text/plain; charset=utf-8"
    )


@dashboard
def findings_csv(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    """The findings list's filters and order, every page of it."""
    params = list_params(request.GET)
    listed = (
        Finding.objects.select_related("cluster", "policy")
        .defer("diff", "attribution")
        .annotate(drift_paths=KeyTransform("paths", "diff"))
    )
    finder = FindingFilter(params, queryset=listed)
    if not finder.is_valid():
        return _refused(finder.errors)
    rows = ordered(finder.qs, params)
    base = settings.BASE_URL.rstrip("/")
    found = (_finding_row(f, base) for f in rows.iterator(chunk_size=2000))
    return _stream(FINDING_COLUMNS, found, "findings")


def _rollup_row(row: DailyRollup) -> list[Any]:
    return [
        row.day.isoformat(), row.scope, row.scope_name or row.scope_id, round(row.score, 2),
        row.objects_in_scope, row.open_critical, row.open_high, row.open_medium, row.open_low,
        row.open_info, row.opened, row.resolved, row.mttd_median, row.mttd_p90,
        row.mttr_median, row.mttr_p90, row.generated,
    ]  # fmt: skip


@dashboard
def trends_csv(request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
    """Every daily rollup (fleet, lanes, clusters) of the range the trends page shows."""
    form = RangeForm(request.GET or None)
    if form.is_bound and not form.is_valid():
        return _refused(form.errors)
    since = timezone.localdate() - timedelta(days=form.range_days() - 1)
    rows = DailyRollup.objects.filter(day__gte=since).order_by("day", "scope", "scope_name")
    return _stream(ROLLUP_COLUMNS, (_rollup_row(r) for r in rows.iterator()), "trends")
