"""/api/v1/lanes/, clusters/, sources/, policies/: read for viewers; create (POST),
replace (PUT) and merge (PATCH) for admins, as documents (see documents.py).

Every object answer carries an ETag; PUT must send it back in If-Match, PATCH may (see
driftcontrol/api/preconditions.py): a write based on a stale read is refused with 412.

Credentials and hook secrets are write-only: responses say whether one is stored
(``has_credentials``, ``has_hook_secret``), never what it is; ``document`` is the object
as `drift export` writes it, ready to edit and PUT back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.db.models import Model
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.filters import OrderingFilter
from rest_framework.request import Request
from rest_framework.response import Response

from drift.api import documents
from drift.api.document_schemas import reference
from drift.declarative import export
from drift.models import Cluster, DriftPolicy, GitSource, Lane
from driftcontrol.api import preconditions
from driftcontrol.api.errors import documented
from driftcontrol.api.filters import FilterBackend
from driftcontrol.api.views import CheckedQueryMixin
from driftcontrol.permissions import Action


@extend_schema_field(OpenApiTypes.OBJECT)
class DocumentField(serializers.Field):  # type: ignore[type-arg]
    """The object as a driftcontrol.io/v1alpha1 document (`drift export`)."""

    def __init__(self, exporter: Callable[[Any], dict[str, Any]], **kwargs: Any) -> None:
        self.exporter = exporter
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, value: Any) -> dict[str, Any]:
        return self.exporter(value)


class LaneSerializer(serializers.ModelSerializer[Lane]):
    clusters = serializers.SlugRelatedField(slug_field="name", many=True, read_only=True)
    document = DocumentField(export.lane)

    class Meta:
        model = Lane
        fields = [
            "id",
            "name",
            "description",
            "namespaces",
            "identities",
            "branches",
            "registries",
            "service_accounts",
            "secrets",
            "requires",
            "supply",
            "admission",
            "clusters",
            "created_at",
            "updated_at",
            "document",
        ]
        read_only_fields = fields


class ClusterSerializer(serializers.ModelSerializer[Cluster]):
    lanes = serializers.SlugRelatedField(slug_field="name", many=True, read_only=True)
    api_server_url = serializers.CharField(read_only=True, help_text="from the kubeconfig")
    document = DocumentField(export.cluster)

    class Meta:
        model = Cluster
        fields = [
            "id",
            "name",
            "labels",
            "lanes",
            "api_server_url",
            "context",
            "enabled",
            "has_credentials",
            "last_contact_at",
            "server_version",
            "last_error",
            "created_at",
            "updated_at",
            "document",
        ]
        read_only_fields = fields


class GitSourceSerializer(serializers.ModelSerializer[GitSource]):
    has_hook_secret = serializers.SerializerMethodField()
    document = DocumentField(export.source)

    class Meta:
        model = GitSource
        fields = [
            "id",
            "name",
            "url",
            "ref",
            "path",
            "last_revision",
            "last_fetched_at",
            "last_error",
            "has_hook_secret",
            "created_at",
            "updated_at",
            "document",
        ]
        read_only_fields = fields

    def get_has_hook_secret(self, source: GitSource) -> bool:
        return bool(source.hook_secret)


class PolicySerializer(serializers.ModelSerializer[DriftPolicy]):
    source = serializers.SlugRelatedField(slug_field="name", read_only=True)
    document = DocumentField(export.policy)

    class Meta:
        model = DriftPolicy
        fields = [
            "id",
            "name",
            "description",
            "enabled",
            "source",
            "mode",
            "interval_seconds",
            "sync_grace_seconds",
            "cluster_names",
            "cluster_selector",
            "strategy",
            "auto_remediate_up_to",
            "approvals",
            "created_at",
            "updated_at",
            "document",
        ]
        read_only_fields = fields


_WRITES = {
    "list": Action.VIEW,
    "retrieve": Action.VIEW,
    "create": Action.MANAGE_CONFIG,
    "update": Action.MANAGE_CONFIG,
    "partial_update": Action.MANAGE_CONFIG,
}


_NOUNS = {"Lane": "lane", "Cluster": "cluster", "GitSource": "Git source", "DriftPolicy": "policy"}
_READ = (
    "The {noun} as stored, and as a document (`document`) ready to edit and send back. "
    "The `ETag` header is its version: send it as `If-Match` to write."
)
_CREATE = (
    "Create a {noun} from a `{kind}` document, checked as `drift apply` checks it (every "
    "problem named in `errors`). The answer's `Location` is the new object's URL."
)
_PUT = (
    "Replace the {noun} with a whole document (`metadata` and `spec`; the `document` of a "
    "GET, edited). The name comes from the URL. What the document leaves out is reset, as "
    "with `drift apply`, so `If-Match` is required: the `ETag` of the version read. A "
    "stale one is refused with 412, whose `ETag` is the current version."
)
_PATCH = (
    "Change only the `spec` keys (and `metadata.labels`) given; the rest is kept. With "
    "`If-Match`, only if the {noun} is still that version (412 otherwise)."
)
_EXISTS = documented("an object of this kind and name exists; PUT or PATCH it", "conflict")


def _documented(kind: str, serializer: type[serializers.Serializer]) -> Any:  # type: ignore[type-arg]
    noun, tags = _NOUNS[kind], ["configuration"]
    text = {"noun": noun, "kind": kind}
    return extend_schema_view(
        list=extend_schema(
            tags=tags,
            summary=f"List {noun}s",
            description=f"Every {noun}, by name unless `ordering` says otherwise.",
        ),
        retrieve=extend_schema(
            tags=tags,
            summary=f"Show a {noun}",
            description=_READ.format(**text),
            parameters=[preconditions.etag_header(200)],
        ),
        create=extend_schema(
            tags=tags,
            summary=f"Create a {noun}",
            description=_CREATE.format(**text),
            request=reference(f"New{kind}"),
            parameters=[preconditions.etag_header(201)],
            responses={201: serializer, 409: _EXISTS},
        ),
        update=extend_schema(
            tags=tags,
            summary=f"Replace a {noun}",
            description=_PUT.format(**text),
            request=reference(f"{kind}Replacement"),
            parameters=[preconditions.if_match(required=True), preconditions.etag_header(200)],
            responses={200: serializer, 412: preconditions.STALE, 428: preconditions.MISSING},
        ),
        partial_update=extend_schema(
            tags=tags,
            summary=f"Change part of a {noun}",
            description=_PATCH.format(**text),
            request=reference(f"{kind}Change"),
            parameters=[preconditions.if_match(required=False), preconditions.etag_header(200)],
            responses={200: serializer, 412: preconditions.STALE},
        ),
    )


class StrictOrdering(OrderingFilter):
    """DRF's ordering (keys separated by commas, `-` for descending), but a key it does
    not sort by is a 400 naming the keys it does, not silently dropped."""

    def get_ordering(self, request: Request, queryset: Any, view: Any) -> Any:
        raw = request.query_params.get(self.ordering_param)
        if raw:
            allowed = set(view.ordering_fields)
            if any(key.strip().removeprefix("-") not in allowed for key in raw.split(",")):
                keys = ", ".join(sorted(allowed))
                raise ValidationError(
                    {self.ordering_param: [f"sort by {keys}, each optionally prefixed with '-'"]}
                )
        return super().get_ordering(request, queryset, view)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        names = sorted(view.ordering_fields)
        return [
            {
                "name": self.ordering_param,
                "required": False,
                "in": "query",
                "description": "sort keys, comma-separated, `-` first for descending "
                f"(default {', '.join(view.ordering)})",
                "schema": {
                    "type": "array",
                    "items": {"type": "string", "enum": [*names, *(f"-{n}" for n in names)]},
                },
                "style": "form",
                "explode": False,
                "allowEmptyValue": True,  # `ordering=`: the default order
            }
        ]


class DocumentViewSet(CheckedQueryMixin, mixins.ListModelMixin, viewsets.GenericViewSet[Any]):
    kind: str
    exporter: Callable[[Any], dict[str, Any]]
    lookup_field = "name"
    lookup_value_regex = r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?"
    permission_actions = _WRITES
    filter_backends = [FilterBackend, StrictOrdering]
    ordering_fields = ["name", "created_at", "updated_at"]
    ordering = ["name"]

    def retrieve(self, request: Request, name: str) -> Response:
        return self._answer(self.get_object())

    def create(self, request: Request) -> Response:
        document = documents.document_from(request.data, self.kind)
        model: type[Model] = self.get_queryset().model
        obj = documents.create(model, document, request.user)
        location = reverse(f"api:{self.basename}-detail", kwargs={"name": obj.name})
        return self._answer(obj, status.HTTP_201_CREATED, location)

    # The body is checked whole before If-Match: a wrong body is a 400 whatever the
    # version, so a 412 (or 428) means only "redo this on the current version".
    def update(self, request: Request, name: str) -> Response:
        with transaction.atomic():
            obj = self._locked()
            body = documents.complete(request.data)
            document = documents.checked(documents.document_from(body, self.kind, obj.name))
            preconditions.check(request, self._version(obj), required=True)
            return self._answer(documents.replace(obj, document, request.user))

    def partial_update(self, request: Request, name: str) -> Response:
        with transaction.atomic():
            obj = self._locked()
            body = documents.merged(type(self).exporter(obj), request.data)
            document = documents.checked(documents.document_from(body, self.kind, obj.name))
            preconditions.check(request, self._version(obj), required=False)
            return self._answer(documents.replace(obj, document, request.user))

    def _locked(self) -> Any:
        """The object (404 and permissions as usual), read again with its row locked until
        the write commits: the If-Match check must see the version the write replaces, and
        a concurrent writer must wait for it, then see the new version and get 412."""
        obj = self.get_object()
        return self.get_queryset().select_for_update(of=("self",)).get(pk=obj.pk)

    def _version(self, obj: Any) -> str:
        return documents.version(type(self).exporter(obj), obj)

    def _answer(
        self, obj: Any, status_code: int = status.HTTP_200_OK, location: str | None = None
    ) -> Response:
        headers = {"ETag": self._version(obj), **({"Location": location} if location else {})}
        return Response(self.get_serializer(obj).data, status=status_code, headers=headers)


@_documented("Lane", LaneSerializer)
class LaneViewSet(DocumentViewSet):
    kind = "Lane"
    exporter = staticmethod(export.lane)
    queryset = Lane.objects.prefetch_related("clusters")
    serializer_class = LaneSerializer


@_documented("Cluster", ClusterSerializer)
class ClusterViewSet(DocumentViewSet):
    kind = "Cluster"
    exporter = staticmethod(export.cluster)
    queryset = Cluster.objects.prefetch_related("lanes")
    serializer_class = ClusterSerializer


@_documented("GitSource", GitSourceSerializer)
class GitSourceViewSet(DocumentViewSet):
    kind = "GitSource"
    exporter = staticmethod(export.source)
    queryset = GitSource.objects.all()
    serializer_class = GitSourceSerializer


@_documented("DriftPolicy", PolicySerializer)
class PolicyViewSet(DocumentViewSet):
    kind = "DriftPolicy"
    exporter = staticmethod(export.policy)
    queryset = DriftPolicy.objects.select_related("source")
    serializer_class = PolicySerializer
