"""/api/v1/admission/decisions/ (the decisions the admission webhook kept: every warn,
deny and break-glass, newest first) and /api/v1/admission/summary/ (what the Admission
page shows of a period), both read through alignment.admission.overview."""

from __future__ import annotations

from typing import Any

import django_filters
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from alignment.admission import overview
from alignment.admission.decide import OUTCOMES
from alignment.models import AdmissionDecision, AdmissionInstallation, AdmissionServer
from drift.models import Cluster, Lane
from driftcontrol.api.bounds import FIRST_DAY, LAST_DAY, MAX_NAME
from driftcontrol.api.filters import SinceFilter
from driftcontrol.api.pagination import KeysetPagination
from driftcontrol.api.views import CheckedQueryMixin
from driftcontrol.permissions import Action

_TAG = {"tags": ["admission"]}
_MOMENT = f"ISO 8601 with a UTC offset, e.g. 2026-05-01T12:00:00Z; from {FIRST_DAY} to {LAST_DAY}"
_OUTCOMES = ", ".join(f"`{o}`" for o in OUTCOMES)


class AdmissionDecisionSerializer(serializers.ModelSerializer[AdmissionDecision]):
    cluster = serializers.SlugRelatedField(slug_field="name", read_only=True)
    rules = serializers.ListField(
        child=serializers.CharField(), help_text="lane.break-glass first for a break-glass"
    )
    groups = serializers.ListField(child=serializers.CharField(), help_text="the requester's")
    unverified = serializers.ListField(
        child=serializers.CharField(),
        help_text="images the lane wants evidence of that were not verified yet: allowed, "
        "queued for verification, judged by the next scan",
    )

    class Meta:
        model = AdmissionDecision
        fields = [
            "id",
            "at",
            "cluster",
            "lane",
            "outcome",
            "rules",
            "message",
            "user",
            "groups",
            "operation",
            "api_group",
            "kind",
            "namespace",
            "name",
            "subresource",
            "dry_run",
            "uid",
            "unverified",
            "latency_ms",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "lane": {"help_text": "the lane whose terms decided; empty when none owns it"},
            "outcome": {"help_text": "warn, deny or break-glass (allows are only counted)"},
            "user": {"help_text": "the requester, as the API server authenticated them"},
            "uid": {"help_text": "the AdmissionReview's; the API server's audit log has it"},
            "api_group": {"help_text": "empty for the core group"},
            "latency_ms": {"help_text": "how long the webhook took to decide"},
        }


class AdmissionDecisionFilter(django_filters.FilterSet):
    cluster = django_filters.CharFilter(field_name="cluster__name", max_length=MAX_NAME)
    lane = django_filters.CharFilter(max_length=MAX_NAME)
    outcome = django_filters.ChoiceFilter(choices=[(o, o) for o in overview.KEPT])
    rule = django_filters.CharFilter(
        method="filter_rule", max_length=MAX_NAME, help_text="decisions that broke this rule"
    )
    user = django_filters.CharFilter(max_length=MAX_NAME, help_text="the requester, exactly")
    since = SinceFilter(field_name="at", help_text=f"decided at or after ({_MOMENT})")
    until = SinceFilter(field_name="at", lookup_expr="lt", help_text=f"decided before ({_MOMENT})")

    class Meta:
        model = AdmissionDecision
        fields: list[str] = []

    def filter_rule(self, queryset: Any, name: str, value: str) -> Any:
        return overview.breaking(queryset, value)


@extend_schema_view(
    list=extend_schema(
        summary="List the admission webhook's decisions",
        description="Every change the admission webhook warned about (`warn`), refused "
        "(`deny`) or let through for a lane's break-glass group (`break-glass`), newest "
        "first: who asked (`user`, `groups`), what (`operation` on `kind` "
        "`namespace`/`name`), which rules it broke and why. Allowed changes are only "
        "counted: see /api/v1/admission/summary/.",
        **_TAG,
    ),
    retrieve=extend_schema(
        summary="Show an admission decision",
        description="One decision the admission webhook kept.",
        **_TAG,
    ),
)
class AdmissionDecisionViewSet(
    CheckedQueryMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet[AdmissionDecision],
):
    queryset = AdmissionDecision.objects.select_related("cluster")
    serializer_class = AdmissionDecisionSerializer
    filterset_class = AdmissionDecisionFilter
    pagination_class = KeysetPagination
    keyset_orderings = {"at": ("at", "id")}
    keyset_default = "-at"
    permission_actions = {"list": Action.VIEW, "retrieve": Action.VIEW}


class SummaryQuerySerializer(serializers.Serializer):  # type: ignore[type-arg]
    period = serializers.ChoiceField(
        choices=list(overview.PERIODS),
        default=overview.DEFAULT_PERIOD,
        help_text="how far back from now",
    )
    cluster = serializers.CharField(required=False, max_length=MAX_NAME)
    lane = serializers.CharField(required=False, max_length=MAX_NAME)
    outcome = serializers.ChoiceField(choices=list(OUTCOMES), required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        for name, model in (("cluster", Cluster), ("lane", Lane)):
            if name in attrs and not model.objects.filter(name=attrs[name]).exists():
                raise serializers.ValidationError({name: [f"no {name} named {attrs[name]!r}"]})
        return attrs


def _outcomes(help_text: str) -> serializers.DictField:
    return serializers.DictField(
        child=serializers.IntegerField(), help_text=f"{help_text}: {_OUTCOMES}, each counted"
    )


class AdmissionCountsSerializer(serializers.Serializer):  # type: ignore[type-arg]
    name = serializers.CharField(help_text="the lane (empty: no lane) or the rule")
    outcomes = _outcomes("decisions by outcome")
    total = serializers.IntegerField()


class AdmissionMomentSerializer(serializers.Serializer):  # type: ignore[type-arg]
    at = serializers.DateTimeField(help_text="the start of the minute, hour or day")
    outcomes = _outcomes("decisions by outcome")


class AdmissionLatencySerializer(serializers.Serializer):  # type: ignore[type-arg]
    count = serializers.IntegerField(help_text="decisions measured")
    mean_ms = serializers.FloatField(allow_null=True)
    p50_ms = serializers.FloatField(allow_null=True)
    p90_ms = serializers.FloatField(allow_null=True)
    p99_ms = serializers.FloatField(allow_null=True)
    max_ms = serializers.FloatField(allow_null=True)


class AdmissionInstallationSerializer(serializers.ModelSerializer[AdmissionInstallation]):
    cluster = serializers.SlugRelatedField(slug_field="name", read_only=True)
    namespaces = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = AdmissionInstallation
        fields = [
            "cluster",
            "name",
            "url",
            "mode",
            "namespaces",
            "installed_by",
            "installed_at",
            "removed_at",
        ]
        read_only_fields = fields


class AdmissionStateSerializer(serializers.Serializer):  # type: ignore[type-arg]
    installation = AdmissionInstallationSerializer(help_text="the latest, in place or removed")
    answering = serializers.BooleanField(help_text="installed, and a server answers now")
    silent_since = serializers.DateTimeField(
        allow_null=True, help_text="installed but unanswered: no server answering since then"
    )


class AdmissionServerSerializer(serializers.ModelSerializer[AdmissionServer]):
    class Meta:
        model = AdmissionServer
        fields = ["address", "hostname", "pid", "started_at", "seen_at", "stopped_at"]
        read_only_fields = fields


class AdmissionServersSerializer(serializers.Serializer):  # type: ignore[type-arg]
    answering = AdmissionServerSerializer(many=True, help_text="runs answering now")
    last_answered = serializers.DateTimeField(
        allow_null=True, help_text="when a server last answered (null: none ever ran)"
    )


class AdmissionSummarySerializer(serializers.Serializer):  # type: ignore[type-arg]
    period = serializers.CharField()
    since = serializers.DateTimeField()
    until = serializers.DateTimeField()
    bucket = serializers.CharField(
        help_text="what one entry of over_time counts: minute, hour, day"
    )
    outcomes = _outcomes("every decision in the period by outcome")
    dry_runs = serializers.IntegerField(help_text="of those, dry runs")
    over_time = AdmissionMomentSerializer(many=True)
    lanes = AdmissionCountsSerializer(many=True, help_text="the most held back first")
    rules = AdmissionCountsSerializer(
        many=True, help_text="rules broken by the decisions kept; one may break several"
    )
    latency = AdmissionLatencySerializer()
    installations = AdmissionStateSerializer(many=True, help_text="one per cluster")
    servers = AdmissionServersSerializer()


class AdmissionSummaryView(CheckedQueryMixin, APIView):
    permission_actions = {"get": Action.VIEW}

    @extend_schema(
        summary="Summarize the admission webhook's work",
        description="Over the last `period` (1h, 6h, 24h, 7d or 30d; 24h by default), "
        f"narrowed by `cluster`, `lane` and `outcome` ({_OUTCOMES}): decisions by outcome, "
        "over time (per minute up to 6h, per hour up to 7d, per day beyond), by lane and "
        "by rule; the time to decide (p50, p90, p99 interpolated within the latency "
        "bucket they fall in, max the upper bound of the slowest bucket counted; null when "
        "nothing was decided); the webhook's installation "
        "on each cluster, and the servers answering now. `cluster` and `lane` must name "
        "existing ones.",
        parameters=[SummaryQuerySerializer],
        responses=AdmissionSummarySerializer,
        **_TAG,
    )
    def get(self, request: Request) -> Response:
        query = SummaryQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        scope = overview.scope_of(**query.validated_data)
        return Response(AdmissionSummarySerializer(_summary(scope)).data)


def _summary(scope: overview.Scope) -> dict[str, Any]:
    found = overview.summary(scope)
    series = overview.over_time(scope)

    def counts(of: overview.Counts) -> dict[str, Any]:
        return {"name": of.name, "outcomes": _every(of), "total": of.total}

    percentiles = found.latency.percentiles
    return {
        "period": scope.period.name,
        "since": scope.since,
        "until": scope.until,
        "bucket": series.bucket,
        "outcomes": _every(found.outcomes),
        "dry_runs": found.outcomes.dry_runs,
        "over_time": [
            {"at": at, "outcomes": {o: series.counts[o][i] for o in OUTCOMES}}
            for i, at in enumerate(series.times)
        ],
        "lanes": [counts(lane) for lane in found.lanes],
        "rules": [counts(rule) for rule in found.rules],
        "latency": {
            "count": found.latency.count,
            "mean_ms": found.latency.mean_ms,
            **{f"{name}_ms": value for name, value in percentiles.items()},
        },
        "installations": found.installed,
        "servers": found.servers,
    }


def _every(counts: overview.Counts) -> dict[str, int]:
    return {outcome: counts.of(outcome) for outcome in OUTCOMES}
