"""django-filter for the API, with the list's defaults applied as the dashboard applies
them (findings open on the working set unless a status is asked for), and query values
checked more strictly than django-filter checks them: a value the filter cannot use is
a 400 naming the parameter, never a silently unfiltered list or a database error.

A query parameter the operation does not take is a 400 too (`?updated_since=` on a
server without it must not answer "everything"). What an operation takes is read from
what documents it, so the schema and the server cannot disagree: its FilterSet, its
filter backends and paginator (lists only), the parameters of its `extend_schema`, a
view's own ``query_parameters``, and ``format``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import django_filters
from django import forms
from django.core.validators import MaxValueValidator
from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.plumbing import get_class
from drf_spectacular.utils import OpenApiParameter, extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request

from driftcontrol.api.bounds import FIRST_DAY, LAST_DAY, MAX_ID, YEARS_PATTERN

# What every boolean widget of django-filter reads the same way; anything else (`maybe`,
# `yes`, `1` for some widgets) used to leave the list unfiltered without a word.
BOOLEANS = ("true", "false", "True", "False")


@extend_schema_field({"type": "integer", "format": "int64", "minimum": 1, "maximum": MAX_ID})
class IdFilter(django_filters.NumberFilter):
    """An object's id: a whole number from 1 to MAX_ID."""

    field_class = forms.IntegerField

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 1)
        super().__init__(*args, **kwargs)

    def get_max_validator(self) -> MaxValueValidator:
        return MaxValueValidator(MAX_ID)


class TimestampField(forms.Field):
    """A moment as ISO 8601 with its UTC offset. Without one it is refused, not read in
    the server's time zone: a sync client that guesses wrong would skip hours of changes."""

    def to_python(self, value: Any) -> datetime | None:
        if value in self.empty_values:
            return None
        text = str(value).strip()
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            moment = None
        if moment is None or moment.tzinfo is None:
            raise forms.ValidationError(
                "an ISO 8601 date and time with its UTC offset, e.g. 2026-05-01T12:00:00Z "
                "(in a URL, send a + offset as %2B: a bare + reads as a space)"
            )
        if not FIRST_DAY <= moment.date() <= LAST_DAY:
            raise forms.ValidationError(f"give a time from {FIRST_DAY} to {LAST_DAY}")
        # In UTC: ISO 8601 allows offsets to 23:59, PostgreSQL's timestamps to 15:59.
        return moment.astimezone(UTC)


@extend_schema_field({"type": "string", "format": "date-time", "pattern": YEARS_PATTERN})
class SinceFilter(django_filters.Filter):
    """Rows whose ``field_name`` is at or after a moment (ISO 8601 with an offset)."""

    field_class = TimestampField

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("lookup_expr", "gte")
        super().__init__(*args, **kwargs)


def updated_since_filter() -> SinceFilter:
    """The incremental-sync filter of a list whose rows carry ``updated_at``."""
    return SinceFilter(
        field_name="updated_at",
        help_text=(
            "only objects changed at or after this moment (ISO 8601 with a UTC offset, "
            "e.g. 2026-05-01T12:00:00Z); page with ordering=updated_at"
        ),
    )


class FilterBackend(DjangoFilterBackend):
    def get_filterset_kwargs(
        self, request: Request, queryset: QuerySet[Any], view: Any
    ) -> dict[str, Any]:
        kwargs = super().get_filterset_kwargs(request, queryset, view)
        defaults = getattr(view, "filter_defaults", None)
        if defaults is not None:
            kwargs["data"] = defaults(kwargs["data"])
        return kwargs

    def filter_queryset(self, request: Request, queryset: QuerySet[Any], view: Any) -> Any:
        # Views without CheckedQueryMixin (any that filter) are checked here.
        check_query_parameters(request, view)
        filterset = self.get_filterset(request, queryset, view)
        if filterset is None:
            return queryset
        problems = {
            name: [error["message"] for error in errors]
            for name, errors in filterset.errors.get_json_data().items()
        }
        problems.update(unusable_values(filterset))
        if problems:
            raise ValidationError(problems)
        return filterset.qs


def unusable_values(filterset: django_filters.FilterSet) -> dict[str, list[str]]:
    """Values django-filter accepts but cannot use: a boolean that is neither true nor
    false, a number no integer column holds."""
    problems: dict[str, list[str]] = {}
    cleaned = getattr(filterset.form, "cleaned_data", {})
    for name, spec in filterset.filters.items():
        raw = filterset.data.get(name)
        if raw in (None, ""):
            continue
        if isinstance(spec, django_filters.BooleanFilter) and raw not in BOOLEANS:
            problems[name] = ["use true or false"]
        value = cleaned.get(name)
        number = isinstance(spec, django_filters.NumberFilter) and value is not None
        if number and not -MAX_ID <= value <= MAX_ID:
            problems[name] = [f"must be from {-MAX_ID} to {MAX_ID}"]
    return problems


# DRF's content negotiation reads ?format= on every operation.
ALWAYS_ACCEPTED = frozenset({"format"})


def check_query_parameters(request: Request, view: Any) -> None:
    """A 400 naming every query parameter the operation does not take."""
    accepted = accepted_query_parameters(view)
    unknown = [name for name in request.query_params if name not in accepted]
    if unknown:
        listed = ", ".join(sorted(accepted))
        raise ValidationError(
            {name: [f"unknown query parameter; this operation takes: {listed}"] for name in unknown}
        )


_ACCEPTED: dict[tuple[type, str], frozenset[str]] = {}


def accepted_query_parameters(view: Any) -> frozenset[str]:
    """The query parameters the view's current operation takes (see the module's text)."""
    handler = getattr(view, "action", None) or view.request.method.lower()
    key = (type(view), handler)
    if key not in _ACCEPTED:
        names = set(ALWAYS_ACCEPTED) | set(getattr(view, "query_parameters", ()))
        names |= declared_parameters(view, handler)
        if _lists(view, handler):
            names |= _list_parameters(view)
        _ACCEPTED[key] = frozenset(names)
    return _ACCEPTED[key]


def _lists(view: Any, handler: str) -> bool:
    if hasattr(view, "action"):  # a viewset: its list operation
        return handler == "list"
    return handler == "get" and getattr(view, "pagination_class", None) is not None


def _list_parameters(view: Any) -> set[str]:
    names: set[str] = set()
    for backend_class in getattr(view, "filter_backends", ()):
        backend = backend_class()
        if isinstance(backend, DjangoFilterBackend):
            names |= filterset_parameters(getattr(view, "filterset_class", None))
        else:  # OrderingFilter, SearchFilter: the parameter they document
            names |= {p["name"] for p in backend.get_schema_operation_parameters(view)}
    pagination = getattr(view, "pagination_class", None)
    if pagination is not None:
        names |= {p["name"] for p in pagination().get_schema_operation_parameters(view)}
    return names


def filterset_parameters(filterset_class: Any) -> set[str]:
    """A FilterSet's parameter names; a range filter's are suffixed (since_after...)."""
    if filterset_class is None:
        return set()
    names: set[str] = set()
    for name, spec in filterset_class.base_filters.items():
        widget = spec.extra.get("widget") or spec.field_class.widget
        suffixes = getattr(widget, "suffixes", None)
        names |= {f"{name}_{s}" if s else name for s in suffixes} if suffixes else {name}
    return names


def declared_parameters(view: Any, handler: str) -> set[str]:
    """The query parameters of the handler's ``extend_schema(parameters=...)``."""
    method = getattr(view, handler, None)
    schema_class = getattr(method, "kwargs", {}).get("schema")
    if schema_class is None:
        return set()
    schema = get_class(schema_class)()
    schema.view = view
    names: set[str] = set()
    for parameter in schema.get_override_parameters():
        if isinstance(parameter, OpenApiParameter):
            if parameter.location == OpenApiParameter.QUERY:
                names.add(parameter.name)
            continue
        serializer = parameter() if isinstance(parameter, type) else parameter
        if isinstance(serializer, serializers.Serializer):
            names |= {n for n, f in serializer.fields.items() if not f.read_only}
    return names
