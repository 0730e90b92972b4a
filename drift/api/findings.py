"""/api/v1/findings/: the findings ledger, filtered by the dashboard's FindingFilter and
paged by keyset cursor; triage actions (acknowledge, suppress, reopen) and the link to
an external ticket, each through drift.services.triage, one finding at a time or in bulk
(drift.api.triage).

Incremental sync: `?updated_since=T&ordering=updated_at` pages by (updated_at, id), so no
finding is skipped or repeated even when thousands share a timestamp, and one changed
while a client pages moves behind its cursor and comes again on a later page."""

from __future__ import annotations

from typing import Any

import django_filters
from django.conf import settings
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from drift.api.triage import (
    AcknowledgeSerializer,
    BulkTriageMixin,
    SuppressSerializer,
    TicketSerializer,
    bulk_schemas,
)
from drift.filters import FindingFilter, default_findings
from drift.models import Finding
from drift.services import triage
from driftcontrol.api.errors import documented
from driftcontrol.api.filters import updated_since_filter
from driftcontrol.api.pagination import KeysetPagination
from driftcontrol.api.views import CheckedQueryMixin
from driftcontrol.exceptions import InvalidTransition
from driftcontrol.permissions import Action


class FindingSerializer(serializers.ModelSerializer[Finding]):
    cluster = serializers.CharField(source="cluster.name", read_only=True)
    policy = serializers.CharField(
        source="policy.name", default=None, allow_null=True, read_only=True
    )
    acknowledged_by = serializers.CharField(
        source="acknowledged_by.username", default=None, allow_null=True, read_only=True
    )
    ticket_url = serializers.CharField(read_only=True, help_text="empty when none is linked")
    recurrence_of = serializers.PrimaryKeyRelatedField(
        read_only=True,
        allow_null=True,
        help_text="the earlier episode of this drift (a finding id), whose ticket it carries",
    )
    last_seen = serializers.DateTimeField(
        read_only=True,
        help_text="the last scan (or change) that saw this drift; a complete scan of the "
        "finding's policy and cluster vouches for every open finding it did not resolve",
    )
    paths = serializers.SerializerMethodField()
    links = serializers.SerializerMethodField()

    class Meta:
        model = Finding
        fields = [
            "id",
            "cluster",
            "policy",
            "type",
            "rule",
            "severity",
            "status",
            "status_reason",
            "suppressed_until",
            "api_group",
            "api_version",
            "kind",
            "namespace",
            "name",
            "paths",
            "source",
            "first_seen",
            "last_seen",
            "resolved_at",
            "drift_started_at",
            "occurrences",
            "recurrence_of",
            "ticket_id",
            "ticket_url",
            "acknowledged_by",
            "acknowledged_at",
            "updated_at",
            "links",
        ]
        read_only_fields = fields

    def get_paths(self, finding: Finding) -> list[str]:
        return list(finding.diff.get("paths", [])) if isinstance(finding.diff, dict) else []

    def get_links(self, finding: Finding) -> dict[str, str]:
        base = settings.BASE_URL.rstrip("/")
        return {
            "ui": f"{base}/findings/{finding.pk}/",
            "api": f"{base}/api/v1/findings/{finding.pk}/",
        }


class FindingDetailSerializer(FindingSerializer):
    last_scan = serializers.IntegerField(
        source="last_scan_id",
        read_only=True,
        allow_null=True,
        help_text="the scan that saw it last (null when a watch event did)",
    )
    diff = serializers.JSONField(
        read_only=True,
        help_text=(
            "paths, RFC 6902 patch, desired and live values. A drift larger than the "
            "server's FINDING_MAX_DIFF_BYTES is stored cut: values end in '…' notes, the "
            "patch is empty, and `truncated` gives the full size in `bytes`, its `sha256` "
            "(of the drift as compact JSON with sorted keys) and the `limit`, and when "
            "drifted fields were left out, how many were kept (`fieldsStored`) of `fields`"
        ),
    )

    class Meta(FindingSerializer.Meta):
        fields = [*FindingSerializer.Meta.fields, "last_scan", "diff", "attribution"]
        read_only_fields = fields


class FindingApiFilter(FindingFilter):
    """The dashboard's filters, and what a sync client needs: changes since a moment, in
    the order they happened."""

    updated_since = updated_since_filter()
    ordering = django_filters.OrderingFilter(
        fields=(
            *(
                (field, param)
                for param, field in FindingFilter.base_filters["ordering"].param_map.items()
            ),
            ("updated_at", "updated_at"),
        ),
        label="Sort",
    )


def _triaged(outcome: triage.Outcome, finding_id: int) -> None:
    if finding_id in outcome.skipped:
        raise InvalidTransition(f"finding #{finding_id} {outcome.skipped[finding_id]}")


_DETAIL = {"responses": FindingDetailSerializer, "tags": ["findings"]}


def _example(value: dict[str, Any]) -> OpenApiExample:
    return OpenApiExample("example", value=value, request_only=True)


# The triage actions refuse a finding not in a state they apply to (acknowledging a
# resolved one, reopening an open one) with 409.
_TRIAGE = {
    "responses": {
        200: FindingDetailSerializer,
        409: documented("the finding is not in a state this applies to", "invalid-transition"),
    },
    "tags": ["findings"],
}


@extend_schema_view(
    list=extend_schema(
        tags=["findings"],
        summary="List findings",
        description=(
            "The working set (open, acknowledged, suppressed) unless `status`, `ticket` or "
            "`updated_since` is given. To sync incrementally, ask "
            "`?updated_since=T&ordering=updated_at` (every status) and follow `next`: a "
            "finding changed while you page comes again later, none is skipped or repeated. "
            "`updated_at` moves when the status, severity, triage, ticket or the drift "
            "itself changes, not when a scan merely sees the same drift again (`last_seen`)."
        ),
    ),
    retrieve=extend_schema(
        summary="Show a finding",
        description="One finding, with its drift (`diff`: the paths, the patch, the desired "
        "and live values) and who made the change (`attribution`), whatever its status.",
        **_DETAIL,
    ),
    acknowledge=extend_schema(
        summary="Acknowledge a finding",
        request=AcknowledgeSerializer,
        examples=[_example({"comment": "Known; fixing in OPS-123"})],
        **_TRIAGE,
    ),
    suppress=extend_schema(summary="Suppress a finding", request=SuppressSerializer, **_TRIAGE),
    reopen=extend_schema(summary="Reopen a finding", request=None, **_TRIAGE),
    resolve=extend_schema(
        summary="Resolve a break-glass finding after review",
        description="Only for findings about a change the admission webhook let through by "
        "break-glass (`lane.break-glass`): no scan can see such a change gone. Any other "
        "finding answers 409: it resolves when a scan no longer finds it.",
        request=AcknowledgeSerializer,
        examples=[_example({"comment": "Reverted; the fix is in Git as shop#412"})],
        **_TRIAGE,
    ),
    ticket=extend_schema(
        summary="Link a ticket to a finding",
        request=TicketSerializer,
        examples=[_example({"ticket_id": "OPS-123", "url": "https://tickets.example.com/OPS-123"})],
        **_DETAIL,
    ),
    **bulk_schemas(FindingSerializer),
)
class FindingViewSet(
    CheckedQueryMixin,
    BulkTriageMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet[Finding],
):
    queryset = Finding.objects.select_related("cluster", "policy", "acknowledged_by")
    serializer_class = FindingSerializer
    filterset_class = FindingApiFilter
    pagination_class = KeysetPagination
    keyset_orderings = {
        "last_seen": ("last_seen", "id"),
        "first_seen": ("first_seen", "id"),
        "severity": ("severity_rank", "last_seen", "id"),
        "kind": ("kind", "namespace", "name", "id"),
        "name": ("name", "id"),
        "namespace": ("namespace", "name", "id"),
        "occurrences": ("occurrences", "last_seen", "id"),
        "updated_at": ("updated_at", "id"),
    }
    keyset_default = "-last_seen"
    triage_actions = (
        *("acknowledge", "suppress", "reopen", "resolve", "ticket", "unlink_ticket"),
        *("bulk_acknowledge", "bulk_suppress", "bulk_ticket"),
    )
    bulk_finding_serializer = FindingSerializer
    permission_actions = dict.fromkeys(triage_actions, Action.TRIAGE_FINDING)

    def filter_defaults(self, params: Any) -> Any:
        # The list opens on the working set, as the dashboard's does; one finding is
        # found whatever its status, and so is a ticket's every episode (newest first),
        # and every change since a moment (a sync client must learn of resolutions too).
        if self.action != "list" or params.get("ticket") or params.get("updated_since"):
            return params
        return default_findings(params)

    def get_serializer_class(self) -> Any:
        return FindingSerializer if self.action == "list" else FindingDetailSerializer

    def _respond(self, finding_id: int) -> Response:
        return Response(FindingDetailSerializer(self.get_queryset().get(pk=finding_id)).data)

    @action(detail=True, methods=["post"])
    def acknowledge(self, request: Request, pk: str) -> Response:
        """Someone owns it: stays in the working set and in the score."""
        given = AcknowledgeSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        finding = self.get_object()
        _triaged(triage.acknowledge([finding.pk], request.user, **given.validated_data), finding.pk)
        return self._respond(finding.pk)

    @action(detail=True, methods=["post"])
    def suppress(self, request: Request, pk: str) -> Response:
        """Accepted until a time: out of the score, then open again by itself."""
        given = SuppressSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        finding = self.get_object()
        data = given.validated_data
        outcome = triage.suppress([finding.pk], request.user, data["reason"], data["until"])
        _triaged(outcome, finding.pk)
        return self._respond(finding.pk)

    @action(detail=True, methods=["post"])
    def reopen(self, request: Request, pk: str) -> Response:
        """Withdraw an acknowledgement or a suppression."""
        finding = self.get_object()
        _triaged(triage.reopen([finding.pk], request.user), finding.pk)
        return self._respond(finding.pk)

    @action(detail=True, methods=["post"])
    def resolve(self, request: Request, pk: str) -> Response:
        """Settle after review a finding about a change no scan can see gone (a
        break-glass change the admission webhook let through); any other finding is
        refused: it resolves when a scan no longer finds it."""
        given = AcknowledgeSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        finding = self.get_object()
        _triaged(triage.resolve([finding.pk], request.user, **given.validated_data), finding.pk)
        return self._respond(finding.pk)

    @action(detail=True, methods=["post"])
    def ticket(self, request: Request, pk: str) -> Response:
        """Link the external ticket that tracks this finding (replaces any earlier link)."""
        given = TicketSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        finding = self.get_object()
        data = given.validated_data
        triage.link_ticket(finding.pk, request.user, data["ticket_id"], data["url"])
        return self._respond(finding.pk)

    @ticket.mapping.delete
    @extend_schema(
        summary="Unlink a finding's ticket",
        request=None,
        responses={200: FindingDetailSerializer},
        tags=["findings"],
    )
    def unlink_ticket(self, request: Request, pk: str) -> Response:
        """Remove the ticket link."""
        finding = self.get_object()
        triage.unlink_ticket(finding.pk, request.user)
        return self._respond(finding.pk)
