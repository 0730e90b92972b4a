"""/api/v1/audit-events/: the hash-chained audit trail, read-only, newest first."""

from __future__ import annotations

import django_filters
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, viewsets

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


class AuditEventFilter(django_filters.FilterSet):
    actor = django_filters.CharFilter()
    action = django_filters.CharFilter(help_text="e.g. remediation.approved")
    action_prefix = django_filters.CharFilter(
        field_name="action", lookup_expr="startswith", help_text="e.g. remediation."
    )
    object_type = django_filters.CharFilter(help_text="e.g. drift.finding")
    object_id = django_filters.CharFilter()
    since = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    until = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = AuditEvent
        fields: list[str] = []


@extend_schema_view(list=extend_schema(tags=["audit"]), retrieve=extend_schema(tags=["audit"]))
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
