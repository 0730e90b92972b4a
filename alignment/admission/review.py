"""AdmissionReview v1 as kube-apiserver sends it and expects it back: the request read
into a `Request` (anything malformed refused with what and where), and a decision written
as the response.

The webhook is installed for `admissionReviewVersions: [v1]` only, so any other version
is refused rather than answered in a shape the sender would not read. A body comes from
the API server, but anyone who reaches the port can post one: every field is checked for
its type and size before the decision looks at it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from json.encoder import encode_basestring_ascii
from typing import Any, Protocol

import orjson

API_VERSION = "admission.k8s.io/v1"
KIND = "AdmissionReview"
OPERATIONS = ("CREATE", "UPDATE", "DELETE", "CONNECT")
# What the API server reads back: more, or longer, warnings may be cut by it (or by the
# HTTP Warning headers it turns them into), so they are cut here, where it shows.
MAX_WARNINGS = 10
MAX_WARNING = 256
# Kubernetes' own limits (a DNS subdomain, a DNS label); the uid is a UUID.
MAX_NAME = 253
MAX_NAMESPACE = 63
MAX_UID = 128
_NOT_ONE_LINE = re.compile(r"[\x00-\x1f\x7f]+")


class BadReview(ValueError):
    """A body that is not an AdmissionReview v1 request: what is wrong, and where."""

    def __init__(self, where: str, what: str) -> None:
        super().__init__(f"{where}: {what}")
        self.where = where
        self.what = what


@dataclass(frozen=True, slots=True)
class Kind:
    """The kind of the object sent (for a subresource, the subresource's: a Scale)."""

    group: str
    version: str
    kind: str


@dataclass(frozen=True, slots=True)
class Resource:
    """The resource the request is for, as the API server names it (deployments)."""

    group: str
    version: str
    resource: str


@dataclass(frozen=True, slots=True)
class Request:
    """One AdmissionReview request: who does what to which object."""

    uid: str
    kind: Kind
    resource: Resource
    subresource: str  # "" for the object itself; status, scale, exec...
    namespace: str  # "" for cluster-scoped objects
    name: str  # "" for a CREATE that leaves the name to generateName
    operation: str  # CREATE, UPDATE, DELETE or CONNECT
    user: str
    groups: tuple[str, ...]
    object: Mapping[str, Any] | None  # the object as it would be stored (none for DELETE)
    old_object: Mapping[str, Any] | None  # as it is (UPDATE, DELETE)
    dry_run: bool


class Verdict(Protocol):
    """What the response says of a decision (alignment.admission.decide.Decision)."""

    @property
    def allowed(self) -> bool: ...
    @property
    def message(self) -> str: ...
    @property
    def warnings(self) -> tuple[str, ...]: ...


def read(body: bytes) -> Request:
    """The request of a posted AdmissionReview v1 body (JSON, UTF-8 as the API server
    writes it); BadReview if it is not JSON or not an AdmissionReview."""
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:  # not JSON, not UTF-8, or nested past reason
        raise BadReview("body", "not JSON") from None
    return parse(parsed)


def parse(body: Any) -> Request:
    """The request of an AdmissionReview v1 body (parsed JSON); BadReview if it is none."""
    review = _mapping(body, "body")
    if review.get("apiVersion") != API_VERSION:
        raise BadReview("apiVersion", f"must be {API_VERSION} (the only version installed)")
    if review.get("kind") != KIND:
        raise BadReview("kind", f"must be {KIND}")
    request = _mapping(review.get("request"), "request")
    operation = _text(request, "operation", "request", required=True)
    if operation not in OPERATIONS:
        raise BadReview("request.operation", f"must be one of {', '.join(OPERATIONS)}")
    user = _mapping(request.get("userInfo"), "request.userInfo")
    found = Request(
        uid=_text(request, "uid", "request", required=True, limit=MAX_UID),
        kind=Kind(*_names(request, "kind", ("group", "version", "kind"))),
        resource=Resource(*_names(request, "resource", ("group", "version", "resource"))),
        subresource=_text(request, "subResource", "request"),
        namespace=_text(request, "namespace", "request", limit=MAX_NAMESPACE),
        name=_text(request, "name", "request"),
        operation=operation,
        user=_text(user, "username", "request.userInfo", required=True),
        groups=_groups(user.get("groups"), "request.userInfo.groups"),
        object=_object(request.get("object"), "request.object"),
        old_object=_object(request.get("oldObject"), "request.oldObject"),
        dry_run=_flag(request.get("dryRun"), "request.dryRun"),
    )
    if operation in ("CREATE", "UPDATE") and found.object is None:
        raise BadReview("request.object", f"missing (every {operation} carries the object)")
    return found


def response(request_uid: str, decision: Verdict) -> dict[str, Any]:
    """The AdmissionReview v1 answer to the request `request_uid`."""
    answer: dict[str, Any] = {"uid": request_uid, "allowed": decision.allowed}
    if not decision.allowed:
        answer["status"] = {"code": 403, "reason": "Forbidden", "message": decision.message}
    said = warnings(decision.warnings)
    if said:
        answer["warnings"] = said
    return {"apiVersion": API_VERSION, "kind": KIND, "response": answer}


def encode(request_uid: str, decision: Verdict) -> bytes:
    """The response, as the JSON the server sends: json.dumps's, byte for byte."""
    if decision.allowed and not decision.warnings:
        # Most answers: written straight from their one variable part.
        return _ALLOWED % encode_basestring_ascii(request_uid).encode()
    return json.dumps(response(request_uid, decision)).encode()


_ALLOWED = (
    f'{{"apiVersion": "{API_VERSION}", "kind": "{KIND}", "response": '
    '{"uid": %s, "allowed": true}}'
).encode()


def warnings(texts: tuple[str, ...]) -> list[str]:
    """The warnings as the API server takes them: one line each, at most MAX_WARNINGS of
    at most MAX_WARNING characters (the last one says how many more there were)."""
    lines = [_NOT_ONE_LINE.sub(" ", text).strip() for text in texts]
    lines = [_cut(line) for line in lines if line]
    if len(lines) > MAX_WARNINGS:
        more = len(lines) - MAX_WARNINGS + 1
        lines = [*lines[: MAX_WARNINGS - 1], f"... and {more} more warnings"]
    return lines


def _cut(line: str) -> str:
    return line if len(line) <= MAX_WARNING else line[: MAX_WARNING - 3] + "..."


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if value is None:
        raise BadReview(where, "missing")
    if not isinstance(value, dict):
        raise BadReview(where, "must be an object")
    return value


def _text(
    parent: Mapping[str, Any],
    key: str,
    where: str,
    *,
    required: bool = False,
    limit: int = MAX_NAME,
) -> str:
    value = parent.get(key)
    if value is None or value == "":
        if required:
            raise BadReview(f"{where}.{key}", "missing")
        return ""
    if not isinstance(value, str):
        raise BadReview(f"{where}.{key}", "must be a string")
    if len(value) > limit:
        raise BadReview(f"{where}.{key}", f"longer than {limit} characters")
    return value


def _names(request: Mapping[str, Any], key: str, parts: tuple[str, ...]) -> list[str]:
    """A group/version/kind (or resource); the core group is the empty one."""
    found = _mapping(request.get(key), f"request.{key}")
    where = f"request.{key}"
    return [_text(found, part, where, required=part != "group") for part in parts]


def _groups(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise BadReview(where, "must be a list of strings")
    for index, group in enumerate(value):
        if not isinstance(group, str) or len(group) > MAX_NAME:
            raise BadReview(
                f"{where}[{index}]", f"must be a string of at most {MAX_NAME} characters"
            )
    return tuple(value)


def _object(value: Any, where: str) -> Mapping[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise BadReview(where, "must be an object")
    # The rules read metadata as a mapping: a body whose object has another is no object.
    if not isinstance(value.get("metadata", {}), dict):
        raise BadReview(f"{where}.metadata", "must be an object")
    return value


def _flag(value: Any, where: str) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        raise BadReview(where, "must be true or false")
    return value
