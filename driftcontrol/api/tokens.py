"""/api/v1/tokens/: a user's API tokens (admins see everyone's). The token itself is in
the create response only."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from driftcontrol import tokens
from driftcontrol.api.views import CheckedQueryMixin
from driftcontrol.models import ApiToken, TokenScope
from driftcontrol.permissions import Action


class TokenSerializer(serializers.ModelSerializer[ApiToken]):
    user = serializers.CharField(source="user.username", read_only=True)
    usable = serializers.BooleanField(source="is_usable", read_only=True)

    class Meta:
        model = ApiToken
        fields = [
            "id",
            "name",
            "user",
            "scope",
            "prefix",
            "created_at",
            "created_by",
            "expires_at",
            "last_used_at",
            "revoked_at",
            "usable",
        ]
        read_only_fields = fields


class TokenCreateSerializer(serializers.Serializer):  # type: ignore[type-arg]
    name = serializers.CharField(max_length=100, help_text="what uses it, e.g. jira-sync")
    scope = serializers.ChoiceField(choices=TokenScope.choices, default=TokenScope.READ)
    expires_in_days = serializers.IntegerField(
        min_value=1,
        max_value=tokens.MAX_LIFETIME.days,
        allow_null=True,
        default=tokens.DEFAULT_LIFETIME.days,
        help_text="null: never expires",
    )


class TokenCreatedSerializer(TokenSerializer):
    token = serializers.CharField(read_only=True, help_text="shown once; store it now")

    class Meta(TokenSerializer.Meta):
        fields = [*TokenSerializer.Meta.fields, "token"]
        read_only_fields = fields


@extend_schema_view(
    create=extend_schema(
        summary="Create an API token",
        description="A token for the caller, with a scope no wider than their role allows "
        "(`read`, `write`, `approve` or `admin`). The token itself is in this answer "
        "only: store it now. It expires after `expires_in_days` (null: never).",
        request=TokenCreateSerializer,
        responses={201: TokenCreatedSerializer},
        examples=[
            OpenApiExample(
                "a token for a ticketing integration",
                value={"name": "jira-sync", "scope": "write", "expires_in_days": 90},
                request_only=True,
            )
        ],
        tags=["tokens"],
    ),
    destroy=extend_schema(
        summary="Revoke an API token",
        description="The token stops working at once; it stays listed, with `revoked_at`.",
        responses={204: OpenApiResponse(description="revoked")},
        tags=["tokens"],
    ),
    list=extend_schema(
        summary="List API tokens",
        description="The caller's tokens, newest first (an admin sees everyone's). The "
        "tokens themselves are never shown again, only their `prefix`.",
        tags=["tokens"],
    ),
    retrieve=extend_schema(
        summary="Show an API token",
        description="One token's name, scope, owner and lifetime; never the token itself.",
        tags=["tokens"],
    ),
)
class TokenViewSet(
    CheckedQueryMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet[ApiToken],
):
    serializer_class = TokenSerializer
    permission_actions = {
        "list": Action.MANAGE_OWN_TOKENS,
        "retrieve": Action.MANAGE_OWN_TOKENS,
        "create": Action.MANAGE_OWN_TOKENS,
        "destroy": Action.MANAGE_OWN_TOKENS,
    }

    queryset = ApiToken.objects.none()  # for the schema; get_queryset is per user

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):
            return ApiToken.objects.none()
        return tokens.visible_to(self.request.user).order_by("-created_at", "-id")

    def create(self, request: Request) -> Response:
        given = TokenCreateSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        days = given.validated_data["expires_in_days"]
        token, raw = tokens.create(
            request.user,
            given.validated_data["name"],
            given.validated_data["scope"],
            timedelta(days=days) if days is not None else None,
        )
        token.token = raw  # type: ignore[attr-defined]
        return Response(TokenCreatedSerializer(token).data, status=status.HTTP_201_CREATED)

    def destroy(self, request: Request, pk: str) -> Response:
        tokens.revoke(self.get_object().pk, request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
