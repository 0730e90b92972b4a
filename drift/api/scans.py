"""/api/v1/scans/: the scan history (ScanFilter, as the dashboard), one scan's progress
and outcome, and POST to start a scan of a policy on a cluster."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from drift.filters import ScanFilter
from drift.models import Cluster, DriftPolicy, Scan, ScanTrigger
from drift.services import clusters, scanning
from driftcontrol.api.idempotency import idempotent
from driftcontrol.api.pagination import KeysetPagination
from driftcontrol.api.views import CheckedQueryMixin
from driftcontrol.permissions import Action


class ScanSerializer(serializers.ModelSerializer[Scan]):
    policy = serializers.SlugRelatedField(slug_field="name", read_only=True)
    cluster = serializers.SlugRelatedField(slug_field="name", read_only=True)
    requested_by = serializers.CharField(
        source="requested_by.username", default=None, allow_null=True, read_only=True
    )

    class Meta:
        model = Scan
        fields = [
            "id",
            "policy",
            "cluster",
            "status",
            "trigger",
            "requested_by",
            "created_at",
            "started_at",
            "heartbeat_at",
            "finished_at",
            "revision",
            "progress_done",
            "progress_total",
            "progress_percent",
            "objects_desired",
            "objects_live",
            "findings_open",
            "findings_opened",
            "findings_resolved",
            "partial",
            "partial_reason",
            "problems",
            "error",
        ]
        read_only_fields = fields


class NewScanSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """A scan to start: a policy and one of the clusters it targets."""

    policy = serializers.SlugRelatedField(
        slug_field="name",
        queryset=DriftPolicy.objects.select_related("source"),
        help_text="the policy's name",
    )
    cluster = serializers.SlugRelatedField(
        slug_field="name", queryset=Cluster.objects.all(), help_text="a cluster it targets"
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        policy, cluster = attrs["policy"], attrs["cluster"]
        if not policy.enabled:
            raise serializers.ValidationError({"policy": [f"policy {policy.name} is disabled"]})
        if not clusters.targets(policy).filter(pk=cluster.pk).exists():
            raise serializers.ValidationError(
                {"cluster": [f"policy {policy.name} does not target cluster {cluster.name}"]}
            )
        return attrs


@extend_schema_view(
    list=extend_schema(
        tags=["scans"],
        summary="List scans",
        description="The scan history, newest first, filtered as the dashboard's scan list.",
    ),
    retrieve=extend_schema(
        tags=["scans"],
        summary="Show a scan",
        description="One scan: its progress while it runs (`progress_done` of "
        "`progress_total`), then its outcome and the findings it opened and resolved.",
    ),
    create=extend_schema(
        tags=["scans"],
        summary="Start a scan",
        description="Queue a scan of a policy on one of its clusters (202, `Location` is "
        "the scan). If one is already queued or running for the pair, that scan is the "
        "answer (200) and nothing new is queued. Send an `Idempotency-Key` to retry safely.",
        request=NewScanSerializer,
        parameters=[
            OpenApiParameter(
                "Location",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                description="the scan's URL",
                response=[200, 202],
            )
        ],
        responses={
            202: OpenApiResponse(ScanSerializer, description="queued"),
            200: OpenApiResponse(ScanSerializer, description="already queued or running"),
        },
        examples=[
            OpenApiExample(
                "scan a policy on a cluster",
                value={"policy": "shop", "cluster": "east"},
                request_only=True,
            )
        ],
    ),
)
class ScanViewSet(
    CheckedQueryMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet[Scan],
):
    queryset = Scan.objects.select_related("policy", "cluster", "requested_by")
    serializer_class = ScanSerializer
    filterset_class = ScanFilter
    pagination_class = KeysetPagination
    keyset_orderings = {"created_at": ("created_at", "id")}
    keyset_default = "-created_at"
    permission_actions = {"list": Action.VIEW, "retrieve": Action.VIEW, "create": Action.RUN_SCAN}

    @idempotent
    def create(self, request: Request) -> Response:
        given = NewScanSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        scan, created = scanning.request(
            given.validated_data["policy"],
            given.validated_data["cluster"],
            ScanTrigger.API,
            user=request.user,
        )
        scan = self.get_queryset().get(pk=scan.pk)
        return Response(
            ScanSerializer(scan).data,
            status=status.HTTP_202_ACCEPTED if created else status.HTTP_200_OK,
            headers={"Location": f"/api/v1/scans/{scan.pk}/"},
        )
