"""/api/v1/images/: every distinct image the fleet runs (alignment.fleet_images), worst
state first; the Images page lists the same."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from alignment.fleet_images import (
    MAX_SEARCH,
    STATE_WORDS,
    USES_SHOWN,
    fleet_images,
    grouped,
    matching_uses,
)
from alignment.image_uses import STATES
from drift.models import Cluster, Lane
from driftcontrol.api.bounds import MAX_NAME
from driftcontrol.api.pagination import MAX_PAGE_SIZE, PagePagination
from driftcontrol.api.views import CheckedQueryMixin
from driftcontrol.permissions import Action


class ImageQuerySerializer(serializers.Serializer):  # type: ignore[type-arg]
    lane = serializers.CharField(
        required=False, max_length=MAX_NAME, help_text="only containers in this lane"
    )
    cluster = serializers.CharField(
        required=False, max_length=MAX_NAME, help_text="only containers on this cluster"
    )
    state = serializers.ChoiceField(
        choices=STATES,
        required=False,
        help_text="only containers in this state",
        error_messages={"invalid_choice": f"one of: {', '.join(STATES)}"},
    )
    q = serializers.CharField(
        required=False,
        max_length=MAX_SEARCH,
        help_text="only images whose reference contains this (any case)",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        for name, model in (("cluster", Cluster), ("lane", Lane)):
            if name in attrs and not model.objects.filter(name=attrs[name]).exists():
                raise serializers.ValidationError({name: [f"no {name} named {attrs[name]!r}"]})
        return attrs


class ImageUseSerializer(serializers.Serializer):  # type: ignore[type-arg]
    cluster = serializers.CharField(source="cluster.name")
    policy = serializers.CharField(source="policy.name", help_text="whose scan saw it")
    namespace = serializers.CharField()
    kind = serializers.CharField()
    name = serializers.CharField()
    container = serializers.CharField()
    lane = serializers.CharField(help_text="empty: no lane owns the namespace")
    state = serializers.CharField(help_text="this container's state (see `state`)")
    seen_at = serializers.DateTimeField(help_text="the scan that saw it last")


class SignatureSerializer(serializers.Serializer):  # type: ignore[type-arg]
    signer = serializers.CharField(help_text="a lane signer, a key fingerprint or an identity")
    state = serializers.CharField(help_text="trusted, untrusted or invalid")


@extend_schema_field({"type": "integer", "nullable": True})
class LevelField(serializers.IntegerField):
    """Null when the provenance claims no level, and left out without provenance (a field
    that allows null would say null for both)."""


class ImageDetailSerializer(serializers.Serializer):  # type: ignore[type-arg]
    signers = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="the lane signers who signed"
    )
    signatures = SignatureSerializer(many=True, required=False, help_text="every signature")
    builder = serializers.CharField(required=False, help_text="the provenance's builder id")
    level = LevelField(required=False, help_text="the SLSA build level claimed (null: none)")
    source = serializers.CharField(required=False, help_text="the source repository")
    revision = serializers.CharField(required=False, help_text="the commit it was built from")
    built_from_head = serializers.BooleanField(
        required=False, help_text="built from the commit the policy's Git source deploys"
    )
    built_from_git = serializers.BooleanField(
        required=False, help_text="built from a commit of the policy's Git source"
    )
    unverifiable = serializers.CharField(
        required=False, help_text="why the registry could not be read"
    )


class FleetImageSerializer(serializers.Serializer):  # type: ignore[type-arg]
    image = serializers.CharField(help_text="as the pod specs write it")
    digest = serializers.CharField(help_text="sha256:...; empty when it was not resolved")
    state = serializers.CharField(
        help_text="the worst of its containers' states, one of: " + ", ".join(STATES)
    )
    lanes = serializers.ListField(child=serializers.CharField())
    clusters = serializers.ListField(child=serializers.CharField())
    workloads = serializers.IntegerField(source="workload_count")
    containers = serializers.IntegerField(source="use_count", help_text="all its uses")
    uses = ImageUseSerializer(
        many=True, help_text=f"where it runs, the worst first; at most {USES_SHOWN}"
    )
    detail = ImageDetailSerializer(help_text="its worst container's verdict")
    seen_at = serializers.DateTimeField(help_text="the latest scan that saw it")


class ImagePageSerializer(serializers.Serializer):  # type: ignore[type-arg]
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = FleetImageSerializer(many=True)


class ImageListView(CheckedQueryMixin, APIView):
    permission_actions = {"get": Action.VIEW}
    pagination_class = PagePagination

    @extend_schema(
        summary="List the images the fleet runs",
        description="Every distinct image (as written, and the digest it runs as) in the "
        "containers the last scans saw, worst state first: "
        + "; ".join(f"`{state}` {STATE_WORDS[state].lower()}" for state in STATES)
        + ". `lane`, `cluster`, `state` and `q` narrow the containers; an image is listed "
        "when one is left, with the worst state of those left. `cluster` and `lane` must "
        f"name existing ones. Each image lists at most {USES_SHOWN} of its containers (the "
        "worst first); `containers` counts them all.",
        parameters=[
            ImageQuerySerializer,
            OpenApiParameter(
                "page", {"type": "integer", "minimum": 1}, description="page number, from 1"
            ),
            OpenApiParameter(
                "page_size",
                {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE},
                description=f"images per page, 1 to {MAX_PAGE_SIZE} (default 50)",
            ),
        ],
        responses=ImagePageSerializer,
        tags=["alignment"],
    )
    def get(self, request: Request) -> Response:
        query = ImageQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        uses = matching_uses(**query.validated_data)
        paginator = self.pagination_class()
        rows = paginator.paginate_queryset(grouped(uses), request, view=self) or []
        images = fleet_images(uses, list(rows))
        return paginator.get_paginated_response(FleetImageSerializer(images, many=True).data)
