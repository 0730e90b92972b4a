"""/api/v1/me/: who the caller is, their role, the token used, and what they may do."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from driftcontrol.api.permissions import may
from driftcontrol.api.views import CheckedQueryMixin
from driftcontrol.models import ApiToken
from driftcontrol.permissions import Action, role_of


class CurrentTokenSerializer(serializers.Serializer):  # type: ignore[type-arg]
    id = serializers.IntegerField()
    name = serializers.CharField()
    scope = serializers.CharField()
    expires_at = serializers.DateTimeField(allow_null=True)


class MeSerializer(serializers.Serializer):  # type: ignore[type-arg]
    username = serializers.CharField()
    role = serializers.CharField(allow_null=True)
    token = CurrentTokenSerializer(allow_null=True)
    allowed = serializers.ListField(
        child=serializers.CharField(), help_text="actions this call may do (role and scope)"
    )


class MeView(CheckedQueryMixin, APIView):
    permission_actions = {"get": Action.VIEW}

    @extend_schema(
        summary="Who am I",
        description="The caller's user name and role, the token this call came with (its "
        "scope limits the role), and the actions (`allowed`) this call may do.",
        responses=MeSerializer,
        tags=["auth"],
    )
    def get(self, request: Request) -> Response:
        token = request.auth if isinstance(request.auth, ApiToken) else None
        return Response(
            {
                "username": request.user.get_username(),
                "role": role_of(request.user),
                "token": CurrentTokenSerializer(token).data if token else None,
                "allowed": [a.value for a in Action if may(request, a)],
            }
        )
