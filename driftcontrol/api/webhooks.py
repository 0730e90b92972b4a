"""/api/v1/webhooks/: subscriptions (admins), with a test delivery (ping) and secret
rotation. The delivery log is webhook_deliveries.py, the event catalogue webhook_events.py."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.urls import reverse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from driftcontrol import webhooks
from driftcontrol.api.bounds import MAX_TEXT
from driftcontrol.api.errors import documented
from driftcontrol.api.views import CheckedQueryMixin
from driftcontrol.api.webhook_deliveries import DeliverySerializer, DeliveryViewSet
from driftcontrol.models import WebhookDelivery, WebhookSubscription
from driftcontrol.models.webhooks import PayloadVersion, SeverityFloor
from driftcontrol.permissions import Action
from driftcontrol.webhooks.filters import MAX_NAMES, NAME

__all__ = ["DeliveryViewSet", "SubscriptionViewSet"]

EVENT_CHOICES = [webhooks.ALL_EVENTS, *webhooks.EVENT_TYPES]
SEVERITY_CHOICES = ["", *SeverityFloor.values]


def _names(what: str) -> serializers.ListField:
    return serializers.ListField(
        child=serializers.RegexField(NAME.pattern, max_length=63),
        max_length=MAX_NAMES,
        required=False,
        default=list,
        help_text=f"only events of these {what}s (names; empty: any). Names are checked for "
        f"their form, not existence: a {what} may be added later.",
    )


class SubscriptionSerializer(serializers.ModelSerializer[WebhookSubscription]):
    created_by = serializers.CharField(
        source="created_by.username", default=None, allow_null=True, read_only=True
    )
    event_types = serializers.ListField(child=serializers.ChoiceField(choices=EVENT_CHOICES))
    clusters = serializers.ListField(child=serializers.CharField())
    lanes = serializers.ListField(child=serializers.CharField())
    min_severity = serializers.ChoiceField(choices=SEVERITY_CHOICES)
    previous_secret_valid_until = serializers.SerializerMethodField(
        help_text="while a rotation's overlap lasts, deliveries carry a second signature "
        "made with the previous secret until then; otherwise null"
    )

    class Meta:
        model = WebhookSubscription
        fields = [
            "id",
            "name",
            "url",
            "event_types",
            "active",
            "description",
            "payload_version",
            "clusters",
            "lanes",
            "min_severity",
            "previous_secret_valid_until",
            "created_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_by", "created_at", "updated_at"]

    @extend_schema_field(  # type: ignore[misc]
        {"type": "string", "format": "date-time", "nullable": True}
    )
    def get_previous_secret_valid_until(self, subscription: WebhookSubscription) -> Any:
        now = timezone.now()
        if len(subscription.signing_secrets(now)) < 2:
            return None
        return serializers.DateTimeField().to_representation(
            subscription.previous_secret_expires_at
        )


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
    payload_version = serializers.ChoiceField(
        choices=PayloadVersion.choices,
        required=False,
        help_text="2 (snake_case, the default for new subscriptions) or 1 (camelCase, "
        "deprecated; kept for subscriptions made before version 2). Unchanged when omitted.",
    )
    clusters = _names("cluster")
    lanes = _names("lane")
    min_severity = serializers.ChoiceField(
        choices=SEVERITY_CHOICES,
        required=False,
        default="",
        help_text="only events at least this severe (events without one always pass)",
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


class RotateSecretSerializer(serializers.Serializer):  # type: ignore[type-arg]
    overlap_seconds = serializers.IntegerField(
        required=False,
        min_value=0,
        max_value=int(webhooks.MAX_OVERLAP.total_seconds()),
        default=int(webhooks.DEFAULT_OVERLAP.total_seconds()),
        help_text="how long the previous secret keeps signing beside the new one "
        "(default 86400, a day; at most 604800, a week; 0 retires it at once)",
    )


class RotatedSecretSerializer(SubscriptionSerializer):
    secret = serializers.CharField(read_only=True, help_text="the new secret, shown once")

    class Meta(SubscriptionSerializer.Meta):
        fields = [*SubscriptionSerializer.Meta.fields, "secret"]


_TAG = {"tags": ["webhooks"]}
_LOCATION = OpenApiParameter(
    "Location",
    OpenApiTypes.STR,  # a path, relative to this server (not a whole URI)
    OpenApiParameter.HEADER,
    description="the delivery's URL in the log",
    response=[202],
)


@extend_schema_view(
    list=extend_schema(
        summary="List webhook subscriptions",
        description="Every subscription, by name: where it delivers, which events (and "
        "clusters, lanes, minimum severity) it takes, and whether it is active.",
        **_TAG,
    ),
    retrieve=extend_schema(
        summary="Show a webhook subscription",
        description="One subscription; its secret is never shown again.",
        **_TAG,
    ),
    create=extend_schema(
        summary="Subscribe a URL to events",
        description="New subscriptions receive payload version 2 (snake_case) unless asked. "
        "The secret is generated and shown once when none is given.",
        request=SubscriptionWriteSerializer,
        responses={201: SubscriptionCreatedSerializer},
        examples=[
            OpenApiExample(
                "findings to a ticketing system",
                value={
                    "name": "jira",
                    "url": "https://hooks.example.com/driftcontrol",
                    "event_types": ["finding.opened", "finding.resolved"],
                    "min_severity": "high",
                },
                request_only=True,
            )
        ],
        **_TAG,
    ),
    update=extend_schema(
        summary="Replace a webhook subscription",
        description="Every field as given; a secret given replaces the current one at once.",
        request=SubscriptionWriteSerializer,
        responses=SubscriptionSerializer,
        **_TAG,
    ),
    partial_update=extend_schema(
        summary="Change a webhook subscription",
        description="A secret given here replaces the current one at once, with no overlap; "
        "rotate-secret keeps the old one signing for a while.",
        request=SubscriptionWriteSerializer,
        responses=SubscriptionSerializer,
        **_TAG,
    ),
    destroy=extend_schema(
        summary="Delete a webhook subscription",
        description="Nothing more is delivered to it; its delivery log goes with it.",
        responses={204: OpenApiResponse(description="gone")},
        **_TAG,
    ),
    ping=extend_schema(
        summary="Send a test delivery",
        description="Queues a `ping` event to this subscription only, whatever its event "
        "types and filters, and answers with the delivery; follow it in the delivery log. "
        "A paused subscription answers 409.",
        request=None,
        responses={
            202: DeliverySerializer,
            409: documented("the subscription is paused", "invalid-transition"),
        },
        parameters=[_LOCATION],
        **_TAG,
    ),
    rotate_secret=extend_schema(
        summary="Rotate the signing secret",
        description="Generates a new secret, shown once in the answer. Until the overlap "
        "ends, every delivery carries two signatures (t=...,v1=<new>,v1=<previous>), so "
        "receivers can switch without losing one. Rotating again during an overlap drops "
        "the oldest secret: only the two newest ever sign.",
        request=RotateSecretSerializer,
        responses={200: RotatedSecretSerializer},
        **_TAG,
    ),
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
        "ping": Action.MANAGE_WEBHOOKS,
        "rotate_secret": Action.MANAGE_WEBHOOKS,
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

    @action(detail=True, methods=["post"])
    def ping(self, request: Request, pk: str) -> Response:
        delivery = webhooks.ping(request.user, self.get_object().pk)
        delivery = WebhookDelivery.objects.select_related("subscription").get(pk=delivery.pk)
        location = reverse("api:webhook-delivery-detail", args=[delivery.pk])
        return Response(
            DeliverySerializer(delivery).data,
            status=status.HTTP_202_ACCEPTED,
            headers={"Location": location},
        )

    @action(detail=True, methods=["post"], url_path="rotate-secret", url_name="rotate")
    def rotate_secret(self, request: Request, pk: str) -> Response:
        given = RotateSecretSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        overlap = timedelta(seconds=given.validated_data["overlap_seconds"])
        subscription, secret = webhooks.rotate(request.user, self.get_object().pk, overlap)
        body = RotatedSecretSerializer(subscription).data
        body["secret"] = secret
        return Response(body)
