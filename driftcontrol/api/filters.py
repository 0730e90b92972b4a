"""django-filter for the API, with the list's defaults applied as the dashboard applies
them (findings open on the working set unless a status is asked for)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.request import Request


class FilterBackend(DjangoFilterBackend):
    def get_filterset_kwargs(
        self, request: Request, queryset: QuerySet[Any], view: Any
    ) -> dict[str, Any]:
        kwargs = super().get_filterset_kwargs(request, queryset, view)
        defaults = getattr(view, "filter_defaults", None)
        if defaults is not None:
            kwargs["data"] = defaults(kwargs["data"])
        return kwargs
