"""OpenAPI: the error body, the bearer scheme, and the status codes every operation can
return (added by a post-processing hook so no endpoint forgets one)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

from driftcontrol.api import idempotency


class ProblemFieldSerializer(serializers.Serializer):  # type: ignore[type-arg]
    field = serializers.CharField(allow_null=True, help_text="e.g. spec.interval")
    detail = serializers.CharField()


class ProblemSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """The body of every error response."""

    type = serializers.CharField(help_text="a stable slug, e.g. validation-error")
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    errors = ProblemFieldSerializer(many=True, required=False, help_text="400: each bad field")


def problem(description: str) -> OpenApiResponse:
    return OpenApiResponse(ProblemSerializer, description=description)


class AutoSchema(SpectacularAutoSchema):
    """Adds the Idempotency-Key header to actions decorated with @idempotent."""

    def get_override_parameters(self) -> list[Any]:
        parameters = list(super().get_override_parameters())
        handler = getattr(self.view, getattr(self.view, "action", "") or "", None)
        if getattr(handler, "idempotent", False):
            parameters.append(idempotency.PARAMETER)
        return parameters


class BearerTokenScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = "driftcontrol.api.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "an API token: `python manage.py drift token create` or POST /tokens/",
        }


_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
_COMMON = {
    "401": "not signed in, or the token is unknown, revoked or expired",
    "403": "the role (or the token's scope, or an object rule) does not allow this",
    "429": "too many requests; see Retry-After",
}


def _response(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _PROBLEM_REF}}}


def document_common_errors(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Every operation can answer 401, 403 and 429; with path parameters (or pages) 404;
    writes and filtered lists 400; operations with a body 413; idempotent POSTs 409 and
    422."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault("Problem", _problem_schema())
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            wanted = dict(_COMMON)
            parameters = operation.get("parameters", [])
            if "{" in path:
                wanted["404"] = "no such object (or not visible to you)"
            if any(p.get("name") == "page" for p in parameters):
                wanted["404"] = "no such page"
            if method in ("post", "put", "patch") or any(
                p.get("in") == "query" for p in parameters
            ):
                wanted["400"] = "invalid input; `errors` names every bad field"
            if "requestBody" in operation:
                wanted["413"] = "the body is larger than the server reads (REQUEST_BODY_MAX_BYTES)"
            if method == "post":
                wanted["502"] = "a cluster refused it; `cluster` holds its status and message"
                wanted["503"] = "a cluster it needs could not be reached"
            if any(p.get("name") == idempotency.HEADER for p in parameters):
                wanted["409"] = "a request with this Idempotency-Key is still in progress"
                wanted["422"] = "this Idempotency-Key was used for a different request"
            for code, description in wanted.items():
                responses.setdefault(code, _response(description))
    return result


def _problem_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["type", "title", "status", "detail"],
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "errors": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["field", "detail"],
                    "properties": {
                        "field": {"type": "string", "nullable": True},
                        "detail": {"type": "string"},
                    },
                },
            },
            "cluster": {
                "type": "object",
                "description": "502 only: the cluster that refused, and its answer",
                "properties": {
                    "name": {"type": "string"},
                    "status": {"type": "integer", "nullable": True},
                    "message": {"type": "string"},
                },
            },
        },
    }
