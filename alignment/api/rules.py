"""/api/v1/alignment/rules/: every alignment rule and where it stands (alignment.status),
narrowed to a cluster or a lane as the Alignment page narrows it."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from alignment import rules, status, trends
from drift.models import Cluster, Lane
from driftcontrol.api.bounds import MAX_NAME
from driftcontrol.api.views import CheckedQueryMixin
from driftcontrol.permissions import Action


class RuleQuerySerializer(serializers.Serializer):  # type: ignore[type-arg]
    cluster = serializers.CharField(
        required=False, max_length=MAX_NAME, help_text="only this cluster's findings"
    )
    lane = serializers.CharField(
        required=False,
        max_length=MAX_NAME,
        help_text="only findings in namespaces this lane owns on its clusters",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        for name, model in (("cluster", Cluster), ("lane", Lane)):
            if name in attrs and not model.objects.filter(name=attrs[name]).exists():
                raise serializers.ValidationError({name: [f"no {name} named {attrs[name]!r}"]})
        return attrs


class TrendPointSerializer(serializers.Serializer):  # type: ignore[type-arg]
    day = serializers.DateField()
    open = serializers.IntegerField(help_text="violations open at the end of the day")


class RuleStateSerializer(serializers.Serializer):  # type: ignore[type-arg]
    id = serializers.CharField(source="rule.id", help_text="the rule's stable id")
    severity = serializers.CharField(
        source="rule.severity", help_text="by default; a policy's severity rules may rank it"
    )
    title = serializers.CharField(source="rule.title")
    runbook = serializers.CharField(source="rule.runbook", help_text="what it means, how to fix")
    passing = serializers.BooleanField(help_text="no open or acknowledged violation")
    open = serializers.IntegerField(help_text="open and acknowledged findings (not suppressed)")
    clusters = serializers.DictField(
        child=serializers.IntegerField(), help_text="open findings by cluster name"
    )
    lanes = serializers.DictField(
        child=serializers.IntegerField(),
        help_text="open findings by the lanes owning their namespace",
    )
    opened_recently = serializers.IntegerField(
        help_text=f"findings opened in the last {status.RECENT.days} days"
    )
    resolved_recently = serializers.IntegerField(
        help_text=f"findings resolved in the last {status.RECENT.days} days"
    )
    change_this_week = serializers.IntegerField(
        source="trend.this_week", help_text="open now less open at the end of a week ago"
    )
    trend = TrendPointSerializer(
        source="trend.points",
        many=True,
        help_text=f"open violations at the end of each of the last {trends.DAYS} days, "
        "oldest first (a violation suppressed now is left out on every day)",
    )


_FILTERS = [
    RuleQuerySerializer,
]


class RuleListView(CheckedQueryMixin, APIView):
    permission_actions = {"get": Action.VIEW}

    @extend_schema(
        summary="List alignment rules",
        description="Every registered alignment rule with where it stands: passing or "
        "failing, its open findings by cluster and by lane, what opened and resolved in "
        f"the last {status.RECENT.days} days, and its open violations on each of the last "
        f"{trends.DAYS} days. Failing rules first (most open first), then by id. `cluster` "
        "and `lane` narrow every count; each must name one that exists.",
        parameters=_FILTERS,
        responses=RuleStateSerializer(many=True),
        tags=["alignment"],
    )
    def get(self, request: Request) -> Response:
        states = _states(request)
        return Response(RuleStateSerializer(states, many=True).data)


class RuleView(CheckedQueryMixin, APIView):
    permission_actions = {"get": Action.VIEW}

    @extend_schema(
        summary="Show an alignment rule",
        description="One alignment rule by id (e.g. `lane.secret`) and where it stands, "
        "as in the list; `cluster` and `lane` narrow its counts.",
        parameters=[
            *_FILTERS,
            OpenApiParameter("rule_id", str, OpenApiParameter.PATH, description="the rule id"),
        ],
        responses=RuleStateSerializer,
        tags=["alignment"],
    )
    def get(self, request: Request, rule_id: str) -> Response:
        if rule_id not in rules.RULES:
            known = ", ".join(sorted(rules.RULES))
            raise NotFound(f"no alignment rule {rule_id!r}; the rules are: {known}")
        found = next(s for s in _states(request) if s.rule.id == rule_id)
        return Response(RuleStateSerializer(found).data)


def _states(request: Request) -> list[status.RuleState]:
    query = RuleQuerySerializer(data=request.query_params)
    query.is_valid(raise_exception=True)
    wanted = query.validated_data
    return status.rule_states(timezone.now(), wanted.get("cluster"), wanted.get("lane"))
