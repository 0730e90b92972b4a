"""How remediation requests, their steps (the plan) and approvals look in the API."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework import serializers

from drift.models import RemediationStrategy
from driftcontrol.api.bounds import id_field, text_field
from remediation.models import Approval, RemediationRequest, RemediationStep


class ApprovalSerializer(serializers.ModelSerializer[Approval]):
    request = serializers.PrimaryKeyRelatedField(read_only=True)
    approver = serializers.CharField(source="approver.username", read_only=True)

    class Meta:
        model = Approval
        fields = [
            "id",
            "request",
            "approver",
            "decision",
            "comment",
            "plan_version",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class StepSerializer(serializers.ModelSerializer[RemediationStep]):
    finding = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)

    class Meta:
        model = RemediationStep
        fields = [
            "position",
            "finding",
            "action",
            "api_version",
            "kind",
            "namespace",
            "name",
            "source",
            "changes",
            "takeovers",
            "status",
            "attempts",
            "applied_at",
            "result",
        ]
        read_only_fields = fields


class RemediationSerializer(serializers.ModelSerializer[RemediationRequest]):
    cluster = serializers.CharField(source="cluster.name", read_only=True)
    policy = serializers.CharField(
        source="policy.name", default=None, allow_null=True, read_only=True
    )
    requested_by = serializers.CharField(
        source="requested_by.username", default=None, allow_null=True, read_only=True
    )
    findings = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    rollback_of = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    links = serializers.SerializerMethodField()

    class Meta:
        model = RemediationRequest
        fields = [
            "id",
            "cluster",
            "policy",
            "strategy",
            "status",
            "status_reason",
            "severity",
            "trigger",
            "requested_by",
            "reason",
            "findings",
            "approvals_required",
            "plan_version",
            "revision",
            "plan",
            "rollback_of",
            "created_at",
            "updated_at",
            "expires_at",
            "approved_at",
            "started_at",
            "finished_at",
            "links",
        ]
        read_only_fields = fields

    def get_links(self, request: RemediationRequest) -> dict[str, str]:
        base = settings.BASE_URL.rstrip("/")
        return {
            "ui": f"{base}/remediations/{request.pk}/",
            "api": f"{base}/api/v1/remediations/{request.pk}/",
        }


class RemediationDetailSerializer(RemediationSerializer):
    steps = StepSerializer(many=True, read_only=True, help_text="the plan, object by object")
    approvals = ApprovalSerializer(many=True, read_only=True)

    class Meta(RemediationSerializer.Meta):
        fields = [*RemediationSerializer.Meta.fields, "target", "result", "steps", "approvals"]
        read_only_fields = fields


class RemediationCreateSerializer(serializers.Serializer):  # type: ignore[type-arg]
    findings = serializers.ListField(
        child=id_field(),
        min_length=1,
        max_length=500,
        help_text="open findings of one cluster and one policy",
    )
    strategy = serializers.ChoiceField(choices=RemediationStrategy.choices)
    reason = text_field(required=False, allow_blank=True, default="")
    revision = serializers.CharField(
        required=False, max_length=64, help_text="rollback: apply the manifests of this commit"
    )
    undo = id_field(required=False, help_text="rollback: restore what this request changed")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        rollback_only = [k for k in ("revision", "undo") if k in attrs]
        if rollback_only and attrs["strategy"] != RemediationStrategy.ROLLBACK:
            raise serializers.ValidationError(
                {rollback_only[0]: ["only a rollback names a revision or a request to undo"]}
            )
        return attrs


class DecisionSerializer(serializers.Serializer):  # type: ignore[type-arg]
    comment = text_field(required=False, allow_blank=True, default="")


class RejectionSerializer(serializers.Serializer):  # type: ignore[type-arg]
    comment = text_field(help_text="why: a rejection needs a comment")
