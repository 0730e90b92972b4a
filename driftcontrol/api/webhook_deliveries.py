"""/api/v1/webhook-deliveries/: the delivery log (admins), filterable by subscription,
status, event and time, each delivery with its last request and response (redacted), and
manual redelivery."""

from __future__ import annotations

from typing import Any

import django_filters
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from driftcontrol import webhooks
from driftcontrol.api.filters import IdFilter
from driftcontrol.api.pagination import KeysetPagination
from driftcontrol.api.views import CheckedQueryMixin
from driftcontrol.models import DeliveryStatus, WebhookDelivery
from driftcontrol.permissions import Action

_TAG = {"tags": ["webhooks"]}
# What the list leaves in the database: the logged request and response are for the detail.
_LOGGED = ("request_headers", "request_body", "response_headers", "response_body")


class DeliverySerializer(serializers.ModelSerializer[WebhookDelivery]):
    subscription = serializers.PrimaryKeyRelatedField(read_only=True)
    subscription_name = serializers.CharField(source="subscription.name", read_only=True)
    event = serializers.UUIDField(source="event_id", read_only=True)
    redelivery_of = serializers.UUIDField(
        source="redelivery_of_id", read_only=True, allow_null=True
    )

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "subscription",
            "subscription_name",
            "event",
            "event_type",
            "status",
            "attempts",
            "created_at",
            "last_attempt_at",
            "next_attempt_at",
            "delivered_at",
            "response_code",
            "duration_ms",
            "last_error",
            "response_excerpt",
            "redelivery_of",
            "requested_by",
        ]
        read_only_fields = fields


class DeliveryDetailSerializer(DeliverySerializer):
    """A delivery with its last attempt as sent and as answered (credentials redacted)."""

    payload_version = serializers.IntegerField(
        read_only=True, allow_null=True, help_text="the payload version it was sent in"
    )
    request_headers = serializers.DictField(
        child=serializers.CharField(),
        read_only=True,
        help_text="as sent; the signature's value is [redacted]",
    )
    request_body = serializers.CharField(read_only=True)
    response_headers = serializers.DictField(
        child=serializers.CharField(),
        read_only=True,
        help_text="as received; cookies, authorization and tokens are [redacted]",
    )
    response_body = serializers.CharField(
        read_only=True, help_text="at most 16 KiB; response_truncated says when it was cut"
    )
    response_truncated = serializers.BooleanField(read_only=True)

    class Meta(DeliverySerializer.Meta):
        fields = [
            *DeliverySerializer.Meta.fields,
            "payload_version",
            "request_headers",
            "request_body",
            "response_headers",
            "response_body",
            "response_truncated",
        ]
        read_only_fields = fields


class DeliveryFilter(django_filters.FilterSet):
    subscription = IdFilter(field_name="subscription_id")
    status = django_filters.MultipleChoiceFilter(choices=DeliveryStatus.choices)
    event_type = django_filters.CharFilter()
    event = django_filters.UUIDFilter(field_name="event_id")
    since = django_filters.IsoDateTimeFilter(
        field_name="created_at",
        lookup_expr="gte",
        help_text="deliveries created at or after this time (ISO 8601 with offset)",
    )
    until = django_filters.IsoDateTimeFilter(
        field_name="created_at",
        lookup_expr="lt",
        help_text="deliveries created before this time (ISO 8601 with offset)",
    )

    class Meta:
        model = WebhookDelivery
        fields: list[str] = []


@extend_schema_view(
    list=extend_schema(
        summary="List webhook deliveries",
        description="The delivery log, newest first; since/until filter on when a delivery "
        "was created.",
        **_TAG,
    ),
    retrieve=extend_schema(
        summary="Show a webhook delivery",
        description="With its last attempt's request and response: headers (credentials "
        "redacted), the body sent and the body received (at most 16 KiB).",
        responses=DeliveryDetailSerializer,
        **_TAG,
    ),
    redeliver=extend_schema(
        summary="Send a delivery's event again",
        request=None,
        responses={202: DeliverySerializer},
        **_TAG,
    ),
)
class DeliveryViewSet(
    CheckedQueryMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet[WebhookDelivery],
):
    queryset = WebhookDelivery.objects.select_related("subscription")
    serializer_class = DeliverySerializer
    filterset_class = DeliveryFilter
    pagination_class = KeysetPagination
    keyset_orderings = {"created_at": ("created_at", "id")}
    keyset_default = "-created_at"
    permission_actions = {
        "list": Action.MANAGE_WEBHOOKS,
        "retrieve": Action.MANAGE_WEBHOOKS,
        "redeliver": Action.MANAGE_WEBHOOKS,
    }

    def get_serializer_class(self) -> type[serializers.BaseSerializer[WebhookDelivery]]:
        if self.action == "retrieve":
            return DeliveryDetailSerializer
        return DeliverySerializer

    def get_queryset(self) -> Any:
        found = super().get_queryset()
        if self.action == "list":
            found = found.defer(
                "request_headers", "request_body", "response_headers", "response_body"
            )
        return found

    @action(detail=True, methods=["post"])
    def redeliver(self, request: Request, pk: str) -> Response:
        """Send the event to the subscription again (a new delivery with its own log)."""
        copy = webhooks.redeliver(self.get_object().pk, request.user)
        copy = WebhookDelivery.objects.select_related("subscription").get(pk=copy.pk)
        return Response(DeliverySerializer(copy).data, status=status.HTTP_202_ACCEPTED)
