"""django-filter for the API, with the list's defaults applied as the dashboard applies
them (findings open on the working set unless a status is asked for), and query values
checked more strictly than django-filter checks them: a value the filter cannot use is
a 400 naming the parameter, never a silently unfiltered list or a database error."""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from django.core.validators import MaxValueValidator
from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema_field
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request

from driftcontrol.api.bounds import MAX_ID

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
