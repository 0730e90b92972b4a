"""Turn a manifest from Git into what the diff compares, and name objects consistently.

Only what a manifest declares is compared: its spec (or data, rules, subjects...), and of
its metadata the labels and annotations. Identity (apiVersion, kind, name, namespace) is
not compared, it is how the live object is found. Server-populated metadata and status
are never looked at.

Secret values never leave this module as plaintext: `data` and `stringData` become keyed
hashes on both sides, so the diff, the findings and the logs only ever see hashes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
# The Git revision DriftControl applied an object from (remediation stamps it).
REVISION_ANNOTATION = "driftcontrol.io/revision"
# What the deployers write on what they apply to know it again (DriftControl's revision,
# Argo CD's tracking annotation or instance label, Flux's labels): their bookkeeping, in
# what they applied but never in Git, so never a field Git removed.
TRACKING_METADATA = frozenset(
    {
        REVISION_ANNOTATION,
        "argocd.argoproj.io/tracking-id",
        "app.kubernetes.io/instance",
        "kustomize.toolkit.fluxcd.io/name",
        "kustomize.toolkit.fluxcd.io/namespace",
    }
)
_DROPPED_ANNOTATIONS = frozenset({LAST_APPLIED, REVISION_ANNOTATION})
_IDENTITY = frozenset({"apiVersion", "kind", "metadata", "status"})


@dataclass(frozen=True, slots=True, order=True)
class ObjectKey:
    """An object's identity across API versions: group, kind, namespace, name."""

    group: str
    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        kind = f"{self.kind}.{self.group}" if self.group else self.kind
        return f"{kind} {self.namespace}/{self.name}" if self.namespace else f"{kind} {self.name}"


def split_api_version(api_version: str) -> tuple[str, str]:
    """("apps", "v1") for "apps/v1"; ("", "v1") for the core group."""
    group, _, version = api_version.rpartition("/")
    return group, version


def key_of(obj: dict[str, Any]) -> ObjectKey:
    metadata = obj.get("metadata") or {}
    group, _ = split_api_version(str(obj.get("apiVersion", "")))
    return ObjectKey(
        group,
        str(obj.get("kind", "")),
        str(metadata.get("namespace") or ""),
        str(metadata.get("name", "")),
    )


class SecretHasher:
    """Keyed hashes of Secret values: equal values compare equal, yet the stored hash
    cannot be reversed by guessing common passwords without the installation's key."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def __call__(self, raw: bytes) -> str:
        return "hmac-sha256:" + hmac.new(self._key, raw, hashlib.sha256).hexdigest()[:16]

    def data(self, data: Any, string_data: Any = None) -> dict[str, str]:
        hashed: dict[str, str] = {}
        for name, value in (data or {}).items():
            if value is None:
                # The API server stores an empty value (`key: ""`) and returns it as null.
                raw = b""
            else:
                try:
                    raw = base64.b64decode(str(value), validate=True)
                except (binascii.Error, ValueError):
                    raw = str(value).encode()
            hashed[name] = self(raw)
        # The API server folds stringData into data; so does the comparison.
        for name, value in (string_data or {}).items():
            hashed[name] = self(str(value).encode())
        return hashed


@dataclass(slots=True)
class DesiredObject:
    """One object Git declares, ready to compare."""

    key: ObjectKey
    api_version: str
    body: dict[str, Any]
    source: str  # file (and document) it came from
    manifest: dict[str, Any]  # as written in Git, with the namespace filled in


def desired_body(manifest: dict[str, Any], hasher: SecretHasher) -> dict[str, Any]:
    body = {key: value for key, value in manifest.items() if key not in _IDENTITY}
    metadata = manifest.get("metadata") or {}
    compared: dict[str, Any] = {}
    if metadata.get("labels"):
        compared["labels"] = metadata["labels"]
    annotations = {
        k: v
        for k, v in (metadata.get("annotations") or {}).items()
        if k not in _DROPPED_ANNOTATIONS
    }
    if annotations:
        compared["annotations"] = annotations
    if compared:
        body["metadata"] = compared
    if manifest.get("kind") == "Secret" and manifest.get("apiVersion") == "v1":
        body.pop("stringData", None)
        body["data"] = hasher.data(manifest.get("data"), manifest.get("stringData"))
    return body


def live_view(live: dict[str, Any], hasher: SecretHasher) -> dict[str, Any]:
    """The live object as the diff sees it: unchanged, except Secret values become hashes."""
    if live.get("kind") == "Secret" and live.get("apiVersion") == "v1":
        view = dict(live)
        view["data"] = hasher.data(live.get("data"))
        metadata = dict(view.get("metadata") or {})
        annotations = dict(metadata.get("annotations") or {})
        # kubectl's client-side apply keeps the whole Secret, values included, here.
        if annotations.pop(LAST_APPLIED, None) is not None:
            metadata["annotations"] = annotations
            view["metadata"] = metadata
        return view
    return live


def redacted(obj: dict[str, Any], hasher: SecretHasher) -> dict[str, Any]:
    """A copy safe to store or show: managedFields left out (attribution, not state); of a
    Secret, the values hashed (stringData folded in) and kubectl's copy of them dropped."""
    copy = dict(obj)
    metadata = dict(copy.get("metadata") or {})
    metadata.pop("managedFields", None)
    copy["metadata"] = metadata
    if copy.get("kind") == "Secret" and copy.get("apiVersion") == "v1":
        copy["data"] = hasher.data(copy.get("data"), copy.pop("stringData", None))
        annotations = dict(metadata.get("annotations") or {})
        # kubectl's client-side apply keeps the whole Secret, values included, here.
        if annotations.pop(LAST_APPLIED, None) is not None:
            if annotations:
                metadata["annotations"] = annotations
            else:
                metadata.pop("annotations")
    return copy
