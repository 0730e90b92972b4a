"""/api/v1/webhooks/ (subscriptions, admins) and /api/v1/webhook-deliveries/ (the log,
filterable by subscription, with manual redelivery)."""

from __future__ import annotations

from typing import Any

import django_filters
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from driftcontrol import webhooks
from driftcontrol.api.bounds import MAX_TEXT
from driftcontrol.api.filters import IdFilter
from driftcontrol.api.pagination import KeysetPagination
from driftcontrol.api.views import CheckedQueryMixin
from driftcontrol.models import DeliveryStatus, WebhookDelivery, WebhookSubscription
from driftcontrol.permissions import Action

EVENT_CHOICES = [webhooks.ALL_EVENTS, *webhooks.EVENT_TYPES]


class SubscriptionSerializer(serializers.ModelSerializer[WebhookSubscription]):
    created_by = serializers.CharField(
        source="created_by.username", default=None, allow_null=True, read_only=True
    )
    event_types = serializers.ListField(child=serializers.ChoiceField(choices=EVENT_CHOICES))

    class Meta:
        model = WebhookSubscription
        fields = [
            "id",
            "name",
            "url",
            "event_types",
            "active",
            "description",
            "created_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_by", "created_at", "updated_at"]


class SubscriptionWriteSerializer(serializers.Serializer):  # type: ignore[type-arg]
    name = serializers.CharField(max_length=100)
    url = serializers.URLField(max_length=500, help_text="http(s); public addresses only")
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=EVENT_CHOICES),
        min_length=1,
        max_length=len(EVENT_CHOICES),
    )
    secret = serializers.CharField(
        write_only=True,
        required=False,
        min_length=webhooks.MIN_SECRET_LENGTH,
        max_length=200,
        help_text="HMAC signing secret; generated (and returned once) when omitted",
    )
    active = serializers.BooleanField(default=True)
    description = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=MAX_TEXT
    )

    def validate_url(self, url: str) -> str:
        # Checked here too, so one answer names every bad field, the URL included.
        problem = webhooks.url_problem(url)
        if problem is not None:
            raise serializers.ValidationError(problem)
        return url


class SubscriptionCreatedSerializer(SubscriptionSerializer):
    secret = serializers.CharField(
        read_only=True, allow_null=True, help_text="the generated secret, shown once; else null"
    )

    class Meta(SubscriptionSerializer.Meta):
        fields = [*SubscriptionSerializer.Meta.fields, "secret"]


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


class DeliveryFilter(django_filters.FilterSet):
    subscription = IdFilter(field_name="subscription_id")
    status = django_filters.MultipleChoiceFilter(choices=DeliveryStatus.choices)
    event_type = django_filters.CharFilter()
    event = django_filters.UUIDFilter(field_name="event_id")

    class Meta:
        model = WebhookDelivery
        fields: list[str] = []


@extend_schema_view(
    list=extend_schema(tags=["webhooks"]),
    retrieve=extend_schema(tags=["webhooks"]),
    create=extend_schema(
        tags=["webhooks"],
        request=SubscriptionWriteSerializer,
        responses={201: SubscriptionCreatedSerializer},
    ),
    update=extend_schema(
        tags=["webhooks"], request=SubscriptionWriteSerializer, responses=SubscriptionSerializer
    ),
    partial_update=extend_schema(
        tags=["webhooks"], request=SubscriptionWriteSerializer, responses=SubscriptionSerializer
    ),
    destroy=extend_schema(tags=["webhooks"], responses={204: OpenApiResponse(description="gone")}),
)
class SubscriptionViewSet(CheckedQueryMixin, viewsets.ModelViewSet[WebhookSubscription]):
    queryset = WebhookSubscription.objects.select_related("created_by").order_by("name")
    serializer_class = SubscriptionSerializer
    permission_actions = {
        "list": Action.MANAGE_WEBHOOKS,
        "retrieve": Action.MANAGE_WEBHOOKS,
        "create": Action.MANAGE_WEBHOOKS,
        "update": Action.MANAGE_WEBHOOKS,
        "partial_update": Action.MANAGE_WEBHOOKS,
        "destroy": Action.MANAGE_WEBHOOKS,
    }

    def create(self, request: Request) -> Response:
        given = SubscriptionWriteSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        secret_given = "secret" in given.validated_data
        subscription, secret = webhooks.subscribe(request.user, **given.validated_data)
        body = SubscriptionCreatedSerializer(subscription).data
        body["secret"] = None if secret_given else secret
        return Response(body, status=status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        partial = kwargs.pop("partial", False)
        given = SubscriptionWriteSerializer(data=request.data, partial=partial)
        given.is_valid(raise_exception=True)
        changes = dict(given.validated_data)
        subscription = webhooks.update(request.user, self.get_object().pk, **changes)
        return Response(SubscriptionSerializer(subscription).data)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        webhooks.delete(request.user, self.get_object().pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    list=extend_schema(tags=["webhooks"]),
    retrieve=extend_schema(tags=["webhooks"]),
    redeliver=extend_schema(tags=["webhooks"], request=None, responses={202: DeliverySerializer}),
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

    @action(detail=True, methods=["post"])
    def redeliver(self, request: Request, pk: str) -> Response:
        """Send the event to the subscription again (a new delivery with its own log)."""
        copy = webhooks.redeliver(self.get_object().pk, request.user)
        copy = WebhookDelivery.objects.select_related("subscription").get(pk=copy.pk)
        return Response(DeliverySerializer(copy).data, status=status.HTTP_202_ACCEPTED)
