"""Pagination: page numbers for the short configuration lists, keyset cursors for the
long, growing ones (findings, audit events, scans, requests, deliveries).

A keyset cursor holds the sort values of the row it stops at, and the next page is
"rows after (v1, v2, id)" as one SQL row comparison: PostgreSQL walks the index from
there, so page 10,000 costs what page 1 costs, and rows inserted meanwhile neither
repeat nor vanish between pages (an OFFSET would shift under them). Every sort key ends
with the primary key, so ties (one scan opens thousands of findings with the same
timestamp) still have one order.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import date, datetime
from typing import Any
from uuid import UUID

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import F, Field, IntegerField, QuerySet
from django.db.models.fields.tuple_lookups import (  # type: ignore[import-untyped]
    Tuple,
    TupleGreaterThan,
    TupleLessThan,
)
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import BasePagination, PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from driftcontrol.api.bounds import MAX_ID

MAX_PAGE_SIZE = 500
# ASCII digits only, and few enough to be a number (int() refuses 4,300 digits or "²").
_WHOLE_NUMBER = re.compile(r"[0-9]{1,19}")


def _whole_number(raw: str, name: str, minimum: int, maximum: int) -> int:
    if not _WHOLE_NUMBER.fullmatch(raw) or not minimum <= int(raw) <= maximum:
        raise ValidationError({name: [f"a whole number from {minimum} to {maximum}"]})
    return int(raw)


def _page_size(request: Request, default: int) -> int:
    raw = request.query_params.get("page_size")  # empty: as if not given, like every filter
    return _whole_number(raw, "page_size", 1, MAX_PAGE_SIZE) if raw else default


class PagePagination(PageNumberPagination):
    """Page numbers; a page that is not a number is a 400, one past the end a 404."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE

    def get_page_size(self, request: Request) -> int:
        return _page_size(request, self.page_size)

    def paginate_queryset(
        self, queryset: Any, request: Request, view: Any = None
    ) -> list[Any] | None:
        raw = request.query_params.get(self.page_query_param)
        if raw and raw not in self.last_page_strings:
            _whole_number(raw, self.page_query_param, 1, MAX_ID)
        return super().paginate_queryset(queryset, request, view)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        bounds = {"page": (1, MAX_ID), "page_size": (1, MAX_PAGE_SIZE)}
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            low, high = bounds[parameter["name"]]
            parameter["schema"] = {"type": "integer", "minimum": low, "maximum": high}
        return parameters


class KeysetPagination(BasePagination):
    """Needs on the view: ``keyset_orderings`` {public name: model fields, unique last}
    and ``keyset_default`` (e.g. "-last_seen")."""

    page_size = 50
    cursor_query_param = "cursor"
    ordering_query_param = "ordering"

    def paginate_queryset(
        self, queryset: QuerySet[Any], request: Request, view: Any = None
    ) -> list[Any]:
        self.request = request
        self.size = _page_size(request, self.page_size)
        self.ordering, fields, descending = self._ordering(request, view, _cursor_of(request))
        cursor = self._cursor(request, queryset, fields)
        backwards = bool(cursor and cursor.get("b"))
        scan_descending = descending != backwards
        queryset = queryset.order_by(*(f"-{f}" if scan_descending else f for f in fields))
        if cursor:
            key = Tuple(*(F(f) for f in fields))
            lookup = TupleLessThan if scan_descending else TupleGreaterThan
            queryset = queryset.filter(lookup(key, cursor["v"]))
        # A queryset that sorts by a computed column finds its page by id first (findings).
        page = getattr(queryset, "page", None)
        rows = page(0, self.size + 1) if page else list(queryset[: self.size + 1])
        more = len(rows) > self.size
        rows = rows[: self.size]
        if backwards:
            rows.reverse()
        self.fields = fields
        self.next_values = _values(rows[-1], fields) if rows and (more or backwards) else None
        self.previous_values = (
            _values(rows[0], fields) if rows and cursor and (not backwards or more) else None
        )
        return rows

    def get_paginated_response(self, data: Any) -> Response:
        return Response(
            {"next": self.get_next_link(), "previous": self.get_previous_link(), "results": data}
        )

    def get_next_link(self) -> str | None:
        return self._link(self.next_values, backwards=False)

    def get_previous_link(self) -> str | None:
        return self._link(self.previous_values, backwards=True)

    def _link(self, values: list[Any] | None, backwards: bool) -> str | None:
        if values is None:
            return None
        raw = {"o": self.ordering, "v": values, **({"b": 1} if backwards else {})}
        token = base64.urlsafe_b64encode(json.dumps(raw, separators=(",", ":")).encode())
        url = self.request.build_absolute_uri()
        return replace_query_param(url, self.cursor_query_param, token.decode().rstrip("="))

    def _ordering(
        self, request: Request, view: Any, cursor: Any
    ) -> tuple[str, tuple[str, ...], bool]:
        orderings: dict[str, tuple[str, ...]] = view.keyset_orderings
        # A cursor knows the order it pages in: following one needs no ordering parameter.
        asked = request.query_params.get(self.ordering_query_param)
        given = cursor.get("o") if isinstance(cursor, dict) else None
        if cursor is not None and not asked and str(given).removeprefix("-") not in orderings:
            raise _bad_cursor()
        text = asked or (given if isinstance(given, str) else None) or view.keyset_default
        name = text.removeprefix("-")
        if name not in orderings:
            choices = ", ".join(sorted(orderings))
            raise ValidationError(
                {"ordering": [f"sort by one of {choices}, optionally prefixed with '-'"]}
            )
        return text, orderings[name], text.startswith("-")

    def _cursor(
        self, request: Request, queryset: QuerySet[Any], fields: tuple[str, ...]
    ) -> dict[str, Any] | None:
        cursor = _cursor_of(request)
        if cursor is None:
            return None
        if not isinstance(cursor.get("v"), list) or len(cursor["v"]) != len(fields):
            raise _bad_cursor()
        if cursor.get("o") != self.ordering:
            raise ValidationError(
                {"ordering": [f"the cursor pages by {cursor.get('o')}; leave ordering out"]}
            )
        # The values go into SQL as the columns' types: a cursor made by hand must not
        # turn into a database error (a date that is no date, an id beyond bigint).
        cursor["v"] = [
            _column_value(_column(queryset, name), value)
            for name, value in zip(fields, cursor["v"], strict=True)
        ]
        return cursor

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = [
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": "where the page starts, as the `cursor` parameter of the "
                "`next` and `previous` links gives it (following those links as they are is "
                "simplest; they keep the other parameters). A cursor the list never gave "
                "names no page: 404",
                "schema": {"type": "string"},
            },
            {
                "name": "page_size",
                "required": False,
                "in": "query",
                "description": f"rows per page, 1 to {MAX_PAGE_SIZE} (default {self.page_size})",
                "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE},
            },
        ]
        # One key (a FilterSet's ordering filter may take a list: this overrides it).
        names = sorted(view.keyset_orderings)
        parameters.append(
            {
                "name": self.ordering_query_param,
                "required": False,
                "in": "query",
                "description": f"sort key, `-` first for descending (default "
                f"{view.keyset_default}); a cursor keeps its own",
                "schema": {"type": "string", "enum": [*names, *(f"-{n}" for n in names)]},
            }
        )
        return parameters

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        link = {"type": "string", "format": "uri", "nullable": True}
        return {
            "type": "object",
            "required": ["next", "previous", "results"],
            "properties": {"next": link, "previous": link, "results": schema},
        }


def _cursor_of(request: Request) -> dict[str, Any] | None:
    """The cursor parameter, decoded; a 404 when it is none this list gives."""
    raw = request.query_params.get("cursor")
    if not raw:
        return None
    try:
        cursor = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    except (ValueError, RecursionError, binascii.Error, UnicodeDecodeError):
        cursor = None
    if not isinstance(cursor, dict):
        raise _bad_cursor()
    return cursor


def _bad_cursor() -> NotFound:
    # A cursor names a page, as a page number does: one that names none is a 404, like
    # a page past the end (the schema cannot tell a client which strings are cursors).
    return NotFound("no such page: follow the next and previous links as they are given")


def _column(queryset: QuerySet[Any], name: str) -> Any:
    """The field a keyset column is typed by: a model field, or an annotation's output
    (a finding's last_seen is computed)."""
    annotation = queryset.query.annotations.get(name)
    if annotation is not None:
        return annotation.output_field
    return queryset.model._meta.get_field(name)


def _column_value(field: Any, value: Any) -> Any:
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise _bad_cursor()
    if isinstance(field, IntegerField):
        if not isinstance(value, int) or not -MAX_ID <= value <= MAX_ID:
            raise _bad_cursor()
        return value
    try:
        return field.to_python(value) if isinstance(field, Field) else value
    except (DjangoValidationError, TypeError, ValueError, OverflowError):
        raise _bad_cursor() from None


def _values(row: Any, fields: tuple[str, ...]) -> list[Any]:
    values = []
    for name in fields:
        value = getattr(row, name)
        if isinstance(value, datetime | date):
            value = value.isoformat()
        elif isinstance(value, UUID):
            value = str(value)
        values.append(value)
    return values


__all__ = ["MAX_PAGE_SIZE", "KeysetPagination", "PagePagination"]
