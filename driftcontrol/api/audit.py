"""/api/v1/audit-events/: the hash-chained audit trail, read-only, newest first."""

from __future__ import annotations

import django_filters
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, viewsets

from driftcontrol.api.bounds import FIRST_DAY, LAST_DAY
from driftcontrol.api.filters import SinceFilter
from driftcontrol.api.pagination import KeysetPagination
from driftcontrol.api.views import CheckedQueryMixin
from driftcontrol.models import AuditEvent
from driftcontrol.permissions import Action


class AuditEventSerializer(serializers.ModelSerializer[AuditEvent]):
    class Meta:
        model = AuditEvent
        fields = [
            "sequence",
            "created_at",
            "actor",
            "action",
            "object_type",
            "object_id",
            "object_repr",
            "data",
            "prev_hash",
            "hash",
        ]
        read_only_fields = fields


_MOMENT = f"ISO 8601 with a UTC offset, e.g. 2026-05-01T12:00:00Z; from {FIRST_DAY} to {LAST_DAY}"


class AuditEventFilter(django_filters.FilterSet):
    actor = django_filters.CharFilter()
    action = django_filters.CharFilter(help_text="e.g. remediation.approved")
    action_prefix = django_filters.CharFilter(
        field_name="action", lookup_expr="startswith", help_text="e.g. remediation."
    )
    object_type = django_filters.CharFilter(help_text="e.g. drift.finding")
    object_id = django_filters.CharFilter()
    # ISO 8601 with a UTC offset, from 1970 to 9998: a time without an offset is refused,
    # not read in the server's zone, and no year reaches a date the database cannot hold.
    since = SinceFilter(field_name="created_at", help_text=f"at or after ({_MOMENT})")
    until = SinceFilter(field_name="created_at", lookup_expr="lt", help_text=f"before ({_MOMENT})")

    class Meta:
        model = AuditEvent
        fields: list[str] = []


@extend_schema_view(
    list=extend_schema(
        summary="List audit events",
        description="Every change anyone made, newest first: who (`actor`), what "
        "(`action`, e.g. remediation.approved) to which object, with its data. Each event "
        "carries the hash of the one before (`prev_hash`): a chain `drift audit verify` "
        "checks.",
        tags=["audit"],
    ),
    retrieve=extend_schema(
        summary="Show an audit event",
        description="One event of the audit trail, by its sequence number.",
        tags=["audit"],
    ),
)
class AuditEventViewSet(
    CheckedQueryMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet[AuditEvent],
):
    queryset = AuditEvent.objects.all()
    serializer_class = AuditEventSerializer
    filterset_class = AuditEventFilter
    pagination_class = KeysetPagination
    keyset_orderings = {"sequence": ("sequence",)}
    keyset_default = "-sequence"
    lookup_field = "sequence"
    lookup_value_regex = r"\d+"
    permission_actions = {"list": Action.VIEW_AUDIT, "retrieve": Action.VIEW_AUDIT}
