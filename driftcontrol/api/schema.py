"""OpenAPI: the error body, the bearer scheme, and what every operation shares, added by
post-processing hooks so no endpoint can forget it: the status codes it may answer, the
response headers, the limits of ids, empty query values and the request headers."""

from __future__ import annotations

import inspect
from typing import Any

from drf_spectacular.extensions import (
    OpenApiAuthenticationExtension,
    OpenApiSerializerExtension,
)
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

from driftcontrol.api import idempotency
from driftcontrol.api.bounds import MAX_ID
from driftcontrol.api.errors import PROBLEM_TYPES


class ProblemSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """The body of every error response (replaced by ``_problem_schema`` in the schema)."""

    type = serializers.CharField()
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()


def problem(description: str) -> OpenApiResponse:
    return OpenApiResponse(ProblemSerializer, description=description)


class AutoSchema(SpectacularAutoSchema):
    """Adds the Idempotency-Key header to actions decorated with @idempotent, and takes an
    operation's description from its own docstrings only."""

    def get_description(self) -> str:  # type: ignore[override]
        # drf-spectacular falls back to the docstrings of a view's base classes: a mixin's
        # text ("For an API view: a query parameter...") would describe every operation.
        action = getattr(self.view, getattr(self.view, "action", None) or self.method.lower(), None)
        own = type(self.view).__dict__.get("__doc__")
        return inspect.cleandoc(getattr(action, "__doc__", None) or own or "")

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


class ExactlyOneOf(OpenApiSerializerExtension):  # type: ignore[no-untyped-call]
    """A serializer whose ``exactly_one_of = ("until", "days")`` takes one of those fields
    and not both: the schema says so (``oneOf``), so a client learns it from there."""

    target_class = "rest_framework.serializers.Serializer"
    match_subclasses = True

    @classmethod
    def _matches(cls, target: Any) -> bool:
        return bool(getattr(target, "exactly_one_of", None))

    def map_serializer(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        schema: dict[str, Any] = auto_schema._map_basic_serializer(self.target, direction)
        names = self.target.exactly_one_of
        schema["oneOf"] = [{"required": [name]} for name in names]
        schema["description"] = (
            f"{schema.get('description', '')} Give exactly one of: {', '.join(names)}."
        ).strip()
        return schema

    def get_name(self, auto_schema: Any, direction: Any) -> str | None:
        return None  # the serializer's own name


METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
_COMMON = {
    "400": "invalid input (a body field, or a query parameter the operation does not take); "
    "`errors` names every bad field",
    "401": "not signed in, or the token is unknown, revoked or expired",
    "403": "the role (or the token's scope, or an object rule) does not allow this",
    "429": "too many requests; see Retry-After",
}


def operations(result: dict[str, Any]) -> Any:
    """(path, method, operation) of every operation in the schema."""
    for path, item in result.get("paths", {}).items():
        for method in METHODS:
            if isinstance(item.get(method), dict):
                yield path, method, item[method]


def _response(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _PROBLEM_REF}}}


def _wanted_errors(path: str, method: str, operation: dict[str, Any]) -> dict[str, str]:
    wanted = dict(_COMMON)
    names = {p.get("name") for p in operation.get("parameters", [])}
    if "{" in path:
        wanted["404"] = "no such object (or not visible to you)"
    if names & {"page", "cursor"}:
        wanted["404"] = "no such page (past the end, or a cursor this list never gave)"
    if "requestBody" in operation:
        wanted["413"] = "the body is larger than the server reads (REQUEST_BODY_MAX_BYTES)"
        wanted["415"] = "the body is not JSON (send Content-Type: application/json)"
    if method == "post":
        wanted["502"] = "a cluster refused it; `cluster` holds its status and message"
        wanted["503"] = "a cluster it needs could not be reached"
    if idempotency.HEADER in names:
        wanted["409"] = "a request with this Idempotency-Key is still in progress"
        wanted["422"] = "this Idempotency-Key was used for a different request"
    return wanted


def document_common_errors(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Every operation can answer 400 (a query parameter it does not take), 401, 403 and
    429; with path parameters (or pages) 404; operations with a body 413 and 415;
    idempotent POSTs 409 and 422. The Problem body lists every ``type`` it can carry."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = _problem_schema()
    for path, method, operation in operations(result):
        responses = operation.setdefault("responses", {})
        for code, description in _wanted_errors(path, method, operation).items():
            responses.setdefault(code, _response(description))
    return result


def _problem_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "description": "The body of every error answer (RFC 9457's members, `type` a slug).",
        "required": ["type", "title", "status", "detail"],
        "properties": {
            "type": {
                "type": "string",
                "enum": sorted(PROBLEM_TYPES),
                "description": "what went wrong, stable for programs to branch on",
            },
            "title": {"type": "string", "description": "the status, in words"},
            "status": {"type": "integer", "minimum": 400, "maximum": 599},
            "detail": {"type": "string", "description": "what went wrong, for people"},
            "errors": {
                "type": "array",
                "description": "400: one entry per bad field or query parameter",
                "items": {
                    "type": "object",
                    "required": ["field", "detail"],
                    "properties": {
                        "field": {
                            "type": "string",
                            "nullable": True,
                            "description": "e.g. spec.interval; null: the whole request",
                        },
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


def _header(description: str, schema: dict[str, Any], required: bool = False) -> dict[str, Any]:
    return {"description": description, "required": required, "schema": schema}


_SECONDS = {"type": "integer", "minimum": 0}
# Added to every answer under /api/ the rate limit counts (driftcontrol.api.throttling);
# not required: an answer the limiter never saw (its cache down) goes without them.
RATE_LIMIT_HEADERS = {
    "RateLimit-Limit": _header("calls allowed per window", {"type": "integer", "minimum": 1}),
    "RateLimit-Remaining": _header("calls left in this window", _SECONDS),
    "RateLimit-Reset": _header("seconds until one more call is allowed", _SECONDS),
    "RateLimit-Policy": _header("the limit and its window, e.g. `600;w=60`", {"type": "string"}),
}
_RETRY_AFTER = _header("seconds to wait", {"type": "integer", "minimum": 1}, required=True)
_CHALLENGE = _header("how to authenticate: `Bearer`", {"type": "string"})
_REPLAYED = _header(
    "`true` on the stored answer to an earlier request with this Idempotency-Key",
    {"type": "string", "enum": ["true"]},
)
_LOCATION = _header("the URL of the object this created or queued", {"type": "string"})
_CURRENT_TAG = _header(
    "the current version's tag: GET the object again, or redo the change on this version",
    {"type": "string"},
    required=True,
)


def document_headers(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """The response headers: the rate limit's on every answer, Retry-After on a 429, the
    Bearer challenge on a 401, the current ETag on a 412, Location on what creates and
    Idempotent-Replayed on what an Idempotency-Key can replay."""
    for _, method, operation in operations(result):
        names = {p.get("name") for p in operation.get("parameters", [])}
        for code, response in operation.get("responses", {}).items():
            headers = response.setdefault("headers", {})
            wanted = dict(RATE_LIMIT_HEADERS)
            if code == "429":
                wanted["Retry-After"] = _RETRY_AFTER
            elif code == "401":
                wanted["WWW-Authenticate"] = _CHALLENGE
            elif code == "412":
                wanted["ETag"] = _CURRENT_TAG
            elif code.startswith("2") and method == "post":
                if code in ("201", "202"):
                    wanted["Location"] = _LOCATION
                if idempotency.HEADER in names:
                    wanted["Idempotent-Replayed"] = _REPLAYED
            for name, header in wanted.items():
                headers.setdefault(name, header)
    return result


_ID = {"type": "integer", "format": "int64", "minimum": 1, "maximum": MAX_ID}
_EMPTY = "An optional query parameter sent empty (`?page=`) is the same as leaving it out."


def document_parameters(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """Ids are whole numbers from 1 to MAX_ID; an optional query parameter may be sent
    empty (as a form sends it) and then counts as absent; the request headers' limits."""
    for _, _, operation in operations(result):
        for parameter in operation.get("parameters", []):
            schema = parameter.get("schema", {})
            where = parameter.get("in")
            if where == "path" and schema.get("type") == "integer":
                parameter["schema"] = {**schema, **_ID}
            elif where == "query" and not parameter.get("required"):
                if schema.get("type") != "array":
                    parameter["allowEmptyValue"] = True
            elif where == "header" and parameter.get("required"):
                # A required header sent empty counts as missing (If-Match: 428).
                parameter["schema"] = {**schema, "minLength": 1, "pattern": r"\S"}
            if where in ("query", "header"):
                parameter["schema"] = _text(parameter["schema"])
    return result


# PostgreSQL stores no NUL character in text, so the server refuses one in any string it
# reads (Django's and DRF's fields): each free string the client sends says so.
NO_NUL = r"^[^\x00]*$"


def _text(schema: dict[str, Any]) -> dict[str, Any]:
    free = schema.get("type") == "string" and not schema.keys() & {"pattern", "format", "enum"}
    return {**schema, "pattern": NO_NUL} if free else schema


_NESTED = ("additionalProperties", "items", "oneOf", "anyOf", "allOf")


def _walk_text(schema: Any, components: dict[str, Any], seen: set[str]) -> None:
    """Every free string of a request body's schema, however nested, refuses NUL."""
    if isinstance(schema, list):
        for item in schema:
            _walk_text(item, components, seen)
        return
    if not isinstance(schema, dict):
        return
    name = schema.get("$ref", "").rsplit("/", 1)[-1]
    if name and name not in seen:
        seen.add(name)
        _walk_text(components.get(name), components, seen)
    for key in ("properties", *_NESTED):
        value = schema.get(key)
        if key == "properties" and isinstance(value, dict):
            for prop, inner in value.items():
                value[prop] = _text(inner)
                _walk_text(value[prop], components, seen)
        elif isinstance(value, dict):
            schema[key] = _text(value)
            _walk_text(schema[key], components, seen)
        elif isinstance(value, list):
            _walk_text(value, components, seen)


def document_request_text(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """The request bodies' strings refuse NUL (see NO_NUL); the answers' are as stored."""
    components = result.get("components", {}).get("schemas", {})
    seen: set[str] = set()
    for _, _, operation in operations(result):
        for media in operation.get("requestBody", {}).get("content", {}).values():
            _walk_text(media.get("schema"), components, seen)
    return result


def document_api(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """What holds for the whole API: how to authenticate and where it is served."""
    result["security"] = [{"bearerAuth": []}, {"cookieAuth": []}]
    result["servers"] = [{"url": "/", "description": "the server that serves this document"}]
    info = result.setdefault("info", {})
    info["description"] = f"{info.get('description', '')}\n\n{_EMPTY}".strip()
    return result


__all__ = [
    "RATE_LIMIT_HEADERS",
    "AutoSchema",
    "BearerTokenScheme",
    "document_api",
    "document_common_errors",
    "document_headers",
    "document_parameters",
    "document_request_text",
    "operations",
    "problem",
]
