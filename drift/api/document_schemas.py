"""The request bodies of the configuration endpoints, as JSON Schema: the documents
`drift apply` reads (drift.declarative), field by field, so a client (or a generated
one) knows each kind's spec. What no schema can say is checked by the server and
answered with a 400 naming the field: a source's URL and ref as Git reads them, a
kubeconfig's content, names of objects that must exist.

POST takes a new object's whole document. PUT replaces one: the name comes from the URL
(`metadata.name` may repeat it), and `metadata` and `spec` are required, so an empty body
cannot reset an object. PATCH changes the spec keys given."""

from __future__ import annotations

from typing import Any

from drift.declarative import API_VERSION
from drift.declarative.reading import NAME_PATTERN
from drift.engine import admission_terms, requirements
from drift.models.choices import AutoRemediation, PolicyMode, RemediationStrategy, UndeclaredFields

_NAME = {"type": "string", "pattern": NAME_PATTERN.pattern, "maxLength": 63}
_TEXT = {"type": "string"}
_FLAG = {"type": "boolean"}
_ITEMS = {"type": "array", "items": {"type": "string", "minLength": 1}}
_MAPPING = {"type": "object", "additionalProperties": True}
_LABELS = {"type": "object", "additionalProperties": {"type": "string"}}
_SELECTOR = {**_MAPPING, "description": "a Kubernetes label selector"}
_INCLUDE_EXCLUDE = {
    "type": "object",
    "properties": {"include": _ITEMS, "exclude": _ITEMS},
    "additionalProperties": False,
}


def _duration(minimum: int) -> dict[str, Any]:
    return {
        "description": f"seconds (at least {minimum}), or text like 90s, 2m, 1h30m",
        "oneOf": [
            {"type": "integer", "minimum": minimum},
            {"type": "string", "pattern": r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$", "minLength": 2},
        ],
    }


def _object(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
    }
    if required:
        schema["required"] = list(required)
    return schema


_REQUIRES = _object(
    {
        "podSecurity": {
            "type": "string",
            "enum": list(requirements.POD_SECURITY_LEVELS),
            "description": "the Pod Security `enforce` label each namespace carries, at least",
        },
        **dict.fromkeys(requirements.FLAGS, _FLAG),
        "kyvernoPolicies": {
            "type": "array",
            "items": {"type": "string", "pattern": requirements.KYVERNO_NAME.pattern},
            "description": "ClusterPolicy names, or namespace/name of a Policy",
        },
        "gatekeeperConstraints": {
            "type": "array",
            "items": {"type": "string", "pattern": requirements.CONSTRAINT_NAME.pattern},
            "description": "constraints as Kind/name",
        },
    }
)
_SIGNER = _object(
    {
        "name": {**_NAME, "description": "how findings name this signer"},
        "key": {**_TEXT, "description": "a PEM public key: ECDSA P-256 or Ed25519"},
        "keyless": _object(
            {
                "issuer": {**_TEXT, "description": "the OIDC issuer (https://...)"},
                "subject": {**_TEXT, "description": "the certificate identity (SAN), exactly"},
                "subjectPattern": {**_TEXT, "description": "a regular expression on the SAN"},
            },
            ("issuer",),
        ),
    },
    ("name",),
)
_PROVENANCE = _object(
    {
        "required": {**_FLAG, "description": "an SLSA provenance attestation (v1 or v0.2)"},
        "builders": {
            "type": "array",
            "items": _object(
                {"id": _TEXT, "minLevel": {"type": "integer", "minimum": 0, "maximum": 4}},
                ("id",),
            ),
            "description": "allowed builders; absent: any",
        },
        "sourceRepositories": {
            **_ITEMS,
            "description": "repositories images must be built from; absent: the Git source's",
        },
    }
)
_ADMISSION = _object(
    {
        "mode": {
            "type": "string",
            "enum": list(admission_terms.MODES),
            "description": "off (the default), warn, or deny changes that break its rules",
        },
        "breakGlassGroups": {
            "type": "array",
            "items": {"type": "string", "minLength": 1},
            "uniqueItems": True,
            "description": "groups whose members may still change its Git-managed objects "
            "(allowed, audited, raised as lane.break-glass)",
        },
    }
)
LANE = _object(
    {
        "description": _TEXT,
        **dict.fromkeys(
            ("namespaces", "identities", "branches", "registries", "serviceAccounts", "secrets"),
            _ITEMS,
        ),
        "requires": {**_REQUIRES, "description": "the guardrails its namespaces must carry"},
        "requireDigest": {**_FLAG, "description": "images pinned as name@sha256:..."},
        "signers": {"type": "array", "items": _SIGNER, "description": "who may sign images"},
        "provenance": _PROVENANCE,
        "admission": {**_ADMISSION, "description": "what its admission webhook prevents"},
    }
)
SOURCE = _object(
    {
        "url": {
            **_TEXT,
            "minLength": 1,
            "maxLength": 500,
            "description": "a Git URL, or a local path",
        },
        "ref": {**_TEXT, "maxLength": 255, "description": "branch, tag or commit (main)"},
        "path": {**_TEXT, "maxLength": 500, "description": "the manifests' directory"},
        "hookSecret": {**_TEXT, "description": "the push hook's secret; empty removes it"},
    },
    ("url",),
)
CLUSTER = _object(
    {
        "kubeconfig": {
            **_TEXT,
            "minLength": 1,
            "description": "the kubeconfig's content (YAML), stored sealed; required for a "
            "new cluster, kept when left out of a replacement",
        },
        "context": {**_TEXT, "description": "its context to use (default: the current one)"},
        "lanes": {**_ITEMS, "description": "names of lanes"},
        "enabled": _FLAG,
    }
)
_REMEDIATION = _object(
    {
        "strategy": {"type": "string", "enum": RemediationStrategy.values},
        "autoRemediateUpTo": {"type": "string", "enum": AutoRemediation.values},
        "approvals": {
            "type": "object",
            "description": "approvers needed per severity",
            "additionalProperties": {"type": "integer", "minimum": 0},
        },
        "prune": _FLAG,
        "changeWindows": {
            "type": "array",
            "items": _object({"cron": _TEXT, "duration": _TEXT, "timeZone": _TEXT}),
        },
        "expiry": _duration(60),
        "rollbackOnFailedVerification": _FLAG,
        "flapping": _object({"count": {"type": "integer", "minimum": 2}, "window": _duration(60)}),
    }
)
POLICY = _object(
    {
        "description": _TEXT,
        "enabled": _FLAG,
        "source": {**_TEXT, "minLength": 1, "description": "the name of a GitSource"},
        "clusters": {
            **_object(
                {"names": {**_ITEMS, "description": "names of clusters"}, "selector": _SELECTOR}
            ),
            "description": "the clusters it applies to: names, a selector, or both",
            "anyOf": [
                {"required": ["names"], "properties": {"names": {"minItems": 1}}},
                {"required": ["selector"], "properties": {"selector": {"minProperties": 1}}},
            ],
        },
        "namespace": {**_TEXT, "description": "for manifests that name none (default)"},
        "namespaces": _INCLUDE_EXCLUDE,
        "kinds": _INCLUDE_EXCLUDE,
        "objectSelector": _SELECTOR,
        "interval": _duration(10),
        "syncGracePeriod": {
            **_duration(60),
            "description": "how long live objects may run an older revision than Git's head "
            "before sync.lagging reports them: seconds (at least 60), or text like 10m (the "
            "default)",
        },
        "mode": {"type": "string", "enum": PolicyMode.values},
        "detectUnmanaged": _FLAG,
        "undeclaredFields": {"type": "string", "enum": UndeclaredFields.values},
        "trustedManagers": _ITEMS,
        "gitopsManagers": _ITEMS,
        "ignore": {"type": "array", "items": _MAPPING, "description": "rules (README)"},
        "severity": {"type": "array", "items": _MAPPING, "description": "rules (README)"},
        "remediation": _REMEDIATION,
    },
    ("source", "clusters"),
)
SPECS = {"Lane": LANE, "GitSource": SOURCE, "Cluster": CLUSTER, "DriftPolicy": POLICY}


def _metadata(kind: str, *, named: bool) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "name": {**_NAME, "description": "a DNS label" if named else "the URL's, if given"}
    }
    if kind == "Cluster":
        properties["labels"] = _LABELS
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if named:
        schema["required"] = ["name"]
    return schema


# What a new object's spec needs beyond a replacement's (which keeps the stored one).
_NEW_REQUIRES = {"Cluster": ["kubeconfig"]}


def document(kind: str, *, new: bool) -> dict[str, Any]:
    """A whole document of ``kind``: a new object's (POST) or a replacement (PUT)."""
    spec = dict(SPECS[kind])
    if new and kind in _NEW_REQUIRES:
        spec["required"] = [*spec.get("required", []), *_NEW_REQUIRES[kind]]
    required = ["metadata", "spec"] if (not new or "required" in spec) else ["metadata"]
    return {
        "type": "object",
        "description": f"a {kind} document, as `drift apply` reads it",
        "properties": {
            "apiVersion": {"type": "string", "enum": [API_VERSION]},
            "kind": {"type": "string", "enum": [kind]},
            "metadata": _metadata(kind, named=new),
            "spec": spec,
        },
        "required": required,
    }


def patch(kind: str) -> dict[str, Any]:
    """PATCH: any part of a document; the spec's keys given replace the object's."""
    spec = {key: value for key, value in SPECS[kind].items() if key != "required"}
    whole = document(kind, new=False)
    return {
        **whole,
        "description": f"parts of a {kind} document: the spec keys given are changed",
        "properties": {**whole["properties"], "spec": spec},
        "required": [],
    }


def components() -> dict[str, dict[str, Any]]:
    """Every kind's three bodies, under the names the schema gives them."""
    found: dict[str, dict[str, Any]] = {}
    for kind in SPECS:
        found[f"New{kind}"] = document(kind, new=True)
        found[f"{kind}Replacement"] = document(kind, new=False)
        found[f"{kind}Change"] = patch(kind)
    return found


def reference(name: str) -> dict[str, Any]:
    """A request body of ``extend_schema``: the named component."""
    return {"application/json": {"$ref": f"#/components/schemas/{name}"}}


def document_bodies(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """A post-processing hook: the bodies' components, and POST and PUT need one."""
    bodies = components()
    result.setdefault("components", {}).setdefault("schemas", {}).update(bodies)
    names = set(bodies)
    for item in result.get("paths", {}).values():
        for method in ("post", "put"):
            body = item.get(method, {}).get("requestBody", {})
            media = body.get("content", {}).get("application/json", {})
            if media.get("schema", {}).get("$ref", "").rsplit("/", 1)[-1] in names:
                body["required"] = True
    return result
