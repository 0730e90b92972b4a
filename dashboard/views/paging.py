"""Page numbers without an unbounded COUNT: a list counts at most CAP + 1 rows, enough
to say "10,000+", so a million-row findings table costs the same as a small one."""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil
from typing import Any

from django.db.models import QuerySet

from drift.models.findings import FindingQuerySet
from driftcontrol.api.bounds import MAX_ID

CAP = 10_000


@dataclass
class Page:
    rows: list[Any]
    number: int
    per_page: int
    counted: int  # at most CAP + 1
    has_next: bool

    @property
    def capped(self) -> bool:
        return self.counted > CAP

    @property
    def total_label(self) -> str:
        return f"{CAP:,}+" if self.capped else f"{self.counted:,}"

    @property
    def pages(self) -> int:
        return max(1, ceil(min(self.counted, CAP) / self.per_page))

    @property
    def pages_label(self) -> str:
        return f"{self.pages:,}+" if self.capped else f"{self.pages:,}"

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def previous_number(self) -> int:
        return self.number - 1

    @property
    def next_number(self) -> int:
        return self.number + 1

    @property
    def first_index(self) -> int:
        return (self.number - 1) * self.per_page + 1 if self.rows else 0

    @property
    def last_index(self) -> int:
        return (self.number - 1) * self.per_page + len(self.rows)


def _rows(queryset: QuerySet[Any], start: int, stop: int) -> list[Any]:
    # Findings sort by a computed last seen: their queryset finds a page by id first.
    if isinstance(queryset, FindingQuerySet):
        return queryset.page(start, stop)
    return list(queryset[start:stop])


def paginate(queryset: QuerySet[Any], number: Any, per_page: int = 50) -> Page:
    """One page of ``queryset`` (ordered by the caller); a bad or too large page number
    shows the last page that has rows (within the counted rows)."""
    try:
        wanted = max(1, int(number))
    except (TypeError, ValueError):
        wanted = 1
    # Past the counted rows the number is not clamped to the last page: keep its OFFSET
    # a bigint, or the database refuses the query.
    wanted = min(wanted, MAX_ID // per_page)
    # COUNT over a LIMITed subquery: PostgreSQL stops after CAP + 1 rows. Only the key is
    # selected, so columns annotated for display (a per-row subquery) are not computed.
    counted = queryset.order_by().values("pk")[: CAP + 1].count()
    if counted <= CAP:
        wanted = min(wanted, max(1, ceil(counted / per_page)))
    offset = (wanted - 1) * per_page
    rows = _rows(queryset, offset, offset + per_page + 1)
    return Page(rows[:per_page], wanted, per_page, counted, has_next=len(rows) > per_page)
