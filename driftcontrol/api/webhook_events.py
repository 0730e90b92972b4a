"""/api/v1/webhook-events/: the catalogue of webhook events, each with its JSON Schema
(draft 2020-12) of the whole request body a receiver gets. Read-only, for anyone signed
in: a receiver's author needs the contract, not the subscriptions."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, viewsets
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from driftcontrol import webhooks
from driftcontrol.api.views import CheckedQueryMixin
from driftcontrol.permissions import Action
from driftcontrol.webhooks.versions import CURRENT, VERSIONS

_VERSION = OpenApiParameter(
    "payload_version",
    int,
    OpenApiParameter.QUERY,
    enum=list(VERSIONS),
    description=f"the payload version the schema describes (default {CURRENT}; 1 is the "
    "deprecated camelCase shape)",
)


class WebhookEventTypeSerializer(serializers.Serializer):  # type: ignore[type-arg]
    type = serializers.CharField(help_text="e.g. finding.opened")
    description = serializers.CharField()
    subscribable = serializers.BooleanField(
        help_text="false for ping, which goes to one subscription on request"
    )
    schema = serializers.JSONField(help_text="JSON Schema (2020-12) of the request body")


def _version(request: Request) -> int:
    raw = request.query_params.get("payload_version", str(CURRENT))
    if raw not in {str(v) for v in VERSIONS}:
        raise ValidationError({"payload_version": [f"use one of {', '.join(map(str, VERSIONS))}"]})
    return int(raw)


class WebhookEventViewSet(CheckedQueryMixin, viewsets.ViewSet):
    lookup_field = "type"
    lookup_value_regex = r"[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)*"
    permission_actions = {"list": Action.VIEW, "retrieve": Action.VIEW}

    @extend_schema(
        summary="List webhook event types",
        description="Every event a subscription can receive (and ping), with what it means "
        "and the JSON Schema of its request body in the payload version asked for.",
        parameters=[_VERSION],
        responses={200: WebhookEventTypeSerializer(many=True)},
        tags=["webhooks"],
    )
    def list(self, request: Request) -> Response:
        version = _version(request)
        return Response(
            [
                {
                    "type": event.name,
                    "description": event.description,
                    "subscribable": event.subscribable,
                    "schema": webhooks.envelope_schema(event.name, version),
                }
                for event in webhooks.CATALOGUE.values()
            ]
        )

    @extend_schema(
        summary="Show a webhook event's JSON Schema",
        description="The JSON Schema (draft 2020-12) of the request body a receiver gets "
        "for this event type: the envelope (id, type, time, payload_version) and the payload.",
        parameters=[
            _VERSION,
            OpenApiParameter("type", str, OpenApiParameter.PATH, description="the event type"),
        ],
        responses={200: OpenApiTypes.OBJECT},
        tags=["webhooks"],
    )
    def retrieve(self, request: Request, type: str) -> Response:
        version = _version(request)
        if type not in webhooks.CATALOGUE:
            raise NotFound(f"no webhook event type {type}; see /api/v1/webhook-events/")
        return Response(webhooks.envelope_schema(type, version))
