"""/api/v1/summary/ (score, MTTD, MTTR of a scope now) and /api/v1/trends/ (the daily
rollups charts read), both through drift.services.analytics."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from drift.models import Cluster, DailyRollup, DriftPolicy, Lane, RollupScope
from drift.services import analytics
from driftcontrol.api.bounds import MAX_NAME, day_field
from driftcontrol.api.pagination import MAX_PAGE_SIZE, PagePagination
from driftcontrol.api.views import CheckedQueryMixin
from driftcontrol.permissions import Action

MODELS: dict[str, Any] = {
    RollupScope.CLUSTER: Cluster,
    RollupScope.LANE: Lane,
    RollupScope.POLICY: DriftPolicy,
}
MAX_DAYS = 366


class ScopeQuerySerializer(serializers.Serializer):  # type: ignore[type-arg]
    scope = serializers.ChoiceField(choices=RollupScope.choices, default=RollupScope.FLEET)
    name = serializers.CharField(
        required=False, max_length=MAX_NAME, help_text="the cluster, lane or policy"
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        scope = attrs["scope"]
        if scope == RollupScope.FLEET:
            attrs["scope_id"] = None
            return attrs
        if not attrs.get("name"):
            raise serializers.ValidationError({"name": [f"name the {scope}"]})
        found = MODELS[scope].objects.filter(name=attrs["name"]).values_list("pk", flat=True)
        if not found:
            raise serializers.ValidationError({"name": [f"no {scope} named {attrs['name']!r}"]})
        attrs["scope_id"] = found[0]
        return attrs


class SummaryQuerySerializer(ScopeQuerySerializer):
    days = serializers.IntegerField(
        default=30, min_value=1, max_value=MAX_DAYS, help_text="period for MTTD and MTTR"
    )


class TimingSerializer(serializers.Serializer):  # type: ignore[type-arg]
    median = serializers.FloatField(allow_null=True, help_text="seconds")
    p90 = serializers.FloatField(allow_null=True, help_text="seconds")
    count = serializers.IntegerField()


class CostSerializer(serializers.Serializer):  # type: ignore[type-arg]
    id = serializers.IntegerField()
    severity = serializers.CharField()
    kind = serializers.CharField()
    namespace = serializers.CharField()
    name = serializers.CharField()
    cluster = serializers.CharField()
    points = serializers.IntegerField(
        help_text="penalty points: the severity's weight (critical 10, high 5, medium 2, "
        "low 1, info 0), the same in every scope"
    )


class ScoreSerializer(serializers.Serializer):  # type: ignore[type-arg]
    value = serializers.FloatField(help_text="0 to 100")
    objects = serializers.IntegerField(help_text="objects in scope")
    penalty = serializers.IntegerField(
        help_text="penalty points of the counted findings: value = 100 x (1 - penalty / "
        "(10 x objects))"
    )
    by_severity = serializers.DictField(child=serializers.IntegerField())
    costs = CostSerializer(many=True, help_text="the findings that cost the most points")


class SummarySerializer(serializers.Serializer):  # type: ignore[type-arg]
    scope = serializers.CharField()
    name = serializers.CharField(allow_null=True)
    since = serializers.DateTimeField()
    until = serializers.DateTimeField()
    score = ScoreSerializer()
    mttd = TimingSerializer(help_text="from the change to its detection")
    mttr = TimingSerializer(help_text="from detection to resolution")


class SummaryView(CheckedQueryMixin, APIView):
    permission_actions = {"get": Action.VIEW}

    @extend_schema(
        summary="Summarize a scope now",
        description="The drift score of the fleet, a cluster, a lane or a policy now (the "
        "findings that cost the most points first), and over the last `days` the median "
        "and 90th percentile of the time to detect (MTTD) and to resolve (MTTR). A "
        "cluster, lane or policy `scope` needs the `name` of one that exists.",
        parameters=[SummaryQuerySerializer],
        responses=SummarySerializer,
        tags=["trends"],
    )
    def get(self, request: Request) -> Response:
        query = SummaryQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        scope, scope_id = query.validated_data["scope"], query.validated_data["scope_id"]
        until = timezone.now()
        since = until - timedelta(days=query.validated_data["days"])
        score = analytics.score(scope, scope_id)
        body = {
            "scope": scope,
            "name": query.validated_data.get("name"),
            "since": since,
            "until": until,
            "score": score.__dict__,
            "mttd": analytics.mttd(since, until, scope, scope_id).__dict__,
            "mttr": analytics.mttr(since, until, scope, scope_id).__dict__,
        }
        return Response(SummarySerializer(body).data)


class TrendQuerySerializer(serializers.Serializer):  # type: ignore[type-arg]
    scope = serializers.ChoiceField(choices=RollupScope.choices, default=RollupScope.FLEET)
    names = serializers.CharField(
        required=False,
        max_length=100 * (MAX_NAME + 1),
        help_text="comma-separated names of members; all when omitted",
    )
    since = day_field(required=False, help_text="default: 30 days before until")
    until = day_field(required=False, help_text="default: today")
    days = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_DAYS,
        help_text="or: since this many days before until",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "days" in attrs and "since" in attrs:
            raise serializers.ValidationError({"days": ["give either since or days"]})
        if "until" not in attrs:
            attrs["until"] = timezone.localdate()
        if "since" not in attrs:
            attrs["since"] = attrs["until"] - timedelta(days=attrs.pop("days", 30))
        if attrs["since"] > attrs["until"]:
            raise serializers.ValidationError({"since": ["must not be after until"]})
        if (attrs["until"] - attrs["since"]).days > MAX_DAYS:
            raise serializers.ValidationError({"since": [f"at most {MAX_DAYS} days at once"]})
        names = [n.strip() for n in attrs.get("names", "").split(",") if n.strip()]
        attrs["scope_ids"] = None
        if names and attrs["scope"] != RollupScope.FLEET:
            attrs["scope_ids"] = list(
                MODELS[attrs["scope"]].objects.filter(name__in=names).values_list("pk", flat=True)
            )
        return attrs


class RollupSerializer(serializers.ModelSerializer[DailyRollup]):
    open_total = serializers.IntegerField(read_only=True)

    class Meta:
        model = DailyRollup
        fields = [
            "day",
            "scope",
            "scope_id",
            "scope_name",
            "opened",
            "resolved",
            "open_total",
            "open_critical",
            "open_high",
            "open_medium",
            "open_low",
            "open_info",
            "objects_in_scope",
            "score",
            "mttd_median",
            "mttd_p90",
            "mttr_median",
            "mttr_p90",
            "generated",
        ]
        read_only_fields = fields


class TrendPageSerializer(serializers.Serializer):  # type: ignore[type-arg]
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = RollupSerializer(many=True)


class TrendView(CheckedQueryMixin, APIView):
    """Daily rollups of one scope type, by member and day (oldest first)."""

    permission_actions = {"get": Action.VIEW}
    pagination_class = PagePagination

    @extend_schema(
        summary="Daily trends",
        description="The daily rollups the dashboard's charts read: per member of a scope "
        "(every cluster, lane or policy, or those in `names`) and day, the findings "
        "opened, resolved and open by severity, the score, MTTD and MTTR. Oldest first, "
        "by page. The period is `since` (or `days` before `until`) to `until`, at most "
        f"{MAX_DAYS} days; give `since` or `days`, not both, and `since` not after `until`.",
        parameters=[
            TrendQuerySerializer,
            OpenApiParameter(
                "page", {"type": "integer", "minimum": 1}, description="page number, from 1"
            ),
            OpenApiParameter(
                "page_size",
                {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE},
                description=f"rows per page, 1 to {MAX_PAGE_SIZE} (default 50)",
            ),
        ],
        responses=TrendPageSerializer,
        tags=["trends"],
    )
    def get(self, request: Request) -> Response:
        query = TrendQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        rows = analytics.series(data["scope"], data["scope_ids"], data["since"], data["until"])
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(rows, request, view=self)
        return paginator.get_paginated_response(RollupSerializer(page, many=True).data)
