"""/api/v1/remediations/ (request, approve, reject, cancel) and /api/v1/approvals/.

The views only map HTTP to remediation.services: the services lock the request row,
re-check its state and the four-eyes rule, audit and publish. Decisions and requests
take an Idempotency-Key so a client retrying after a timeout cannot approve twice.
"""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import Prefetch
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from drift.models import Finding, RemediationStrategy
from driftcontrol.api.errors import documented
from driftcontrol.api.filters import IdFilter, updated_since_filter
from driftcontrol.api.idempotency import idempotent
from driftcontrol.api.pagination import KeysetPagination
from driftcontrol.api.views import CheckedQueryMixin
from driftcontrol.permissions import Action
from remediation import services
from remediation.api.serializers import (
    ApprovalSerializer,
    DecisionSerializer,
    RejectionSerializer,
    RemediationCreateSerializer,
    RemediationDetailSerializer,
    RemediationSerializer,
)
from remediation.models import (
    Approval,
    Decision,
    RemediationRequest,
    RemediationStep,
    RequestStatus,
)


class RemediationFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=RequestStatus.choices)
    cluster = django_filters.CharFilter(field_name="cluster__name")
    policy = django_filters.CharFilter(field_name="policy__name")
    strategy = django_filters.ChoiceFilter(choices=RemediationStrategy.choices)
    requested_by = django_filters.CharFilter(field_name="requested_by__username")
    finding = IdFilter(field_name="findings__id", distinct=True)
    updated_since = updated_since_filter()

    class Meta:
        model = RemediationRequest
        fields: list[str] = []


_DETAIL = {"responses": RemediationDetailSerializer, "tags": ["remediations"]}
_DECISION = {
    "responses": {
        200: RemediationDetailSerializer,
        409: documented(
            "already decided by this user, no longer in a state this applies to, "
            "or a request with this Idempotency-Key is still in progress",
            "already-decided",
            "invalid-transition",
            "idempotency-key-in-use",
        ),
    },
    "tags": ["remediations"],
}


@extend_schema_view(
    list=extend_schema(
        summary="List remediation requests",
        description="Requests to put drift right, newest first; `?updated_since=T&"
        "ordering=updated_at` pages through every change since a moment.",
        tags=["remediations"],
    ),
    retrieve=extend_schema(
        summary="Show a remediation request",
        description="One request: its plan (`steps`, each a change to one object), its "
        "approvals so far and how many it needs, and its execution's outcome.",
        **_DETAIL,
    ),
    create=extend_schema(
        summary="Request a remediation",
        description="Plan how to put findings of one cluster right (`strategy`: sync from "
        "Git, roll back, or only alert) and ask for approval; `Location` is the new "
        "request. Send an `Idempotency-Key`: a retry then returns the first answer.",
        request=RemediationCreateSerializer,
        responses={201: RemediationDetailSerializer},
        examples=[
            OpenApiExample(
                "sync one finding from Git",
                value={"findings": [42], "strategy": "sync", "reason": "OPS-123: restore"},
                request_only=True,
            )
        ],
        tags=["remediations"],
    ),
    approve=extend_schema(
        summary="Approve a remediation request",
        request=DecisionSerializer,
        examples=[
            OpenApiExample(
                "approve", value={"comment": "Checked the plan; go ahead"}, request_only=True
            )
        ],
        **_DECISION,
    ),
    reject=extend_schema(
        summary="Reject a remediation request", request=RejectionSerializer, **_DECISION
    ),
    cancel=extend_schema(
        summary="Cancel a remediation request", request=DecisionSerializer, **_DECISION
    ),
)
class RemediationViewSet(
    CheckedQueryMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet[RemediationRequest],
):
    serializer_class = RemediationSerializer
    filterset_class = RemediationFilter
    pagination_class = KeysetPagination
    # updated_at: incremental sync (`?updated_since=T&ordering=updated_at`), tie-broken by id.
    keyset_orderings = {"created_at": ("created_at", "id"), "updated_at": ("updated_at", "id")}
    keyset_default = "-created_at"
    permission_actions = {
        "create": Action.REQUEST_REMEDIATION,
        "approve": Action.DECIDE_REMEDIATION,
        "reject": Action.DECIDE_REMEDIATION,
        "cancel": Action.CANCEL_REMEDIATION,
    }

    def get_queryset(self) -> Any:
        requests = RemediationRequest.objects.select_related(
            "cluster", "policy", "requested_by"
        ).prefetch_related("findings")
        if self.action != "list":
            requests = requests.prefetch_related(
                Prefetch("steps", RemediationStep.objects.select_related("finding")),
                Prefetch("approvals", Approval.objects.select_related("approver")),
            )
        return requests

    def get_serializer_class(self) -> Any:
        return RemediationSerializer if self.action == "list" else RemediationDetailSerializer

    def _respond(self, request_id: int, code: int = status.HTTP_200_OK) -> Response:
        found = self.get_queryset().get(pk=request_id)
        headers = {"Location": f"/api/v1/remediations/{request_id}/"} if code == 201 else None
        return Response(RemediationDetailSerializer(found).data, status=code, headers=headers)

    @idempotent
    def create(self, request: Request) -> Response:
        given = RemediationCreateSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        data = given.validated_data
        findings = list(
            Finding.objects.select_related("cluster", "policy").filter(pk__in=data["findings"])
        )
        missing = sorted(set(data["findings"]) - {f.pk for f in findings})
        if missing:
            raise ValidationError({"findings": [f"no finding {', '.join(map(str, missing))}"]})
        undo = None
        if "undo" in data:
            undo = RemediationRequest.objects.filter(pk=data["undo"]).first()
            if undo is None:
                raise ValidationError({"undo": [f"no remediation request #{data['undo']}"]})
        created = services.request_remediation(
            findings,
            data["strategy"],
            request.user,
            data["reason"],
            {"revision": data["revision"]} if "revision" in data else None,
            rollback_of=undo,
        )
        return self._respond(created.pk, status.HTTP_201_CREATED)

    @idempotent
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: str) -> Response:
        """Approve the current plan; the last approval needed queues the execution."""
        given = DecisionSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        decided = services.approve(self.get_object().pk, request.user, **given.validated_data)
        return self._respond(decided.pk)

    @idempotent
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, pk: str) -> Response:
        """Reject the request (with a comment); nothing reaches the cluster."""
        given = RejectionSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        decided = services.reject(self.get_object().pk, request.user, **given.validated_data)
        return self._respond(decided.pk)

    @idempotent
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str) -> Response:
        """Withdraw a pending or approved request (its requester, or an admin)."""
        given = DecisionSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        cancelled = services.cancel(self.get_object().pk, request.user, **given.validated_data)
        return self._respond(cancelled.pk)


class ApprovalFilter(django_filters.FilterSet):
    request = IdFilter(field_name="request_id")
    approver = django_filters.CharFilter(field_name="approver__username")
    decision = django_filters.ChoiceFilter(choices=Decision.choices)
    updated_since = updated_since_filter()

    class Meta:
        model = Approval
        fields: list[str] = []


@extend_schema_view(
    list=extend_schema(
        summary="List approvals",
        description="Every decision recorded on a request (one per approver and plan), "
        "newest first, by request, approver or decision.",
        tags=["remediations"],
    ),
    retrieve=extend_schema(
        summary="Show an approval",
        description="One decision: who approved or rejected which request, when, with "
        "what comment.",
        tags=["remediations"],
    ),
)
class ApprovalViewSet(
    CheckedQueryMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet[Approval],
):
    """Every decision recorded on a request (one per approver and plan)."""

    queryset = Approval.objects.select_related("approver")
    serializer_class = ApprovalSerializer
    filterset_class = ApprovalFilter
    pagination_class = KeysetPagination
    # updated_at: incremental sync (`?updated_since=T&ordering=updated_at`), tie-broken by id.
    keyset_orderings = {"created_at": ("created_at", "id"), "updated_at": ("updated_at", "id")}
    keyset_default = "-created_at"
