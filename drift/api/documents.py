"""Configuration through the API goes the way `drift apply` goes: the request body is a
driftcontrol.io/v1alpha1 document (``metadata`` and ``spec``; ``apiVersion`` and
``kind`` may be left out), validated and written by `declarative.apply`, so the API
accepts and refuses exactly what the command line does, with the same field paths.

PUT replaces, so it takes only a whole document (``metadata`` and ``spec``): an empty
body must not read as "no labels, no lanes, defaults everywhere". PATCH merges.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Model
from rest_framework.exceptions import ValidationError

from drift import declarative
from drift.services import configuration
from driftcontrol.api import preconditions
from driftcontrol.api.errors import Problem


def _refuse(field: str, message: str) -> ValidationError:
    return ValidationError({field: [message]})


def document_from(data: Any, kind: str, name: str | None = None) -> dict[str, Any]:
    """The body as a document of ``kind``; ``name`` is the one in the URL (updates)."""
    if not isinstance(data, dict):
        raise _refuse("non_field_errors", "send a JSON object with metadata and spec")
    if data.get("apiVersion", declarative.API_VERSION) != declarative.API_VERSION:
        raise _refuse("apiVersion", f"must be {declarative.API_VERSION} (or left out)")
    if data.get("kind", kind) != kind:
        raise _refuse("kind", f"must be {kind} here (or left out)")
    metadata = data.get("metadata", {})
    if not isinstance(metadata, dict):
        raise _refuse("metadata", "must be a mapping with name (and labels for clusters)")
    metadata = dict(metadata)
    if name is not None:
        if metadata.get("name", name) != name:
            raise _refuse("metadata.name", f"cannot rename {name} here; the URL names it")
        metadata["name"] = name
    document = {**data, "apiVersion": declarative.API_VERSION, "kind": kind, "metadata": metadata}
    spec = document.get("spec")
    if kind == "Cluster" and isinstance(spec, dict):
        kubeconfig = spec.get("kubeconfig")
        if isinstance(kubeconfig, str) and "\n" not in kubeconfig.strip():
            # A path would make the server read one of its own files.
            raise _refuse(
                "spec.kubeconfig", "give the kubeconfig's content (YAML), not a file path"
            )
    return document


def complete(data: Any) -> Any:
    """PUT: refuse a body that is not a whole document, naming each missing part."""
    if not isinstance(data, dict):
        raise _refuse("non_field_errors", "send a JSON object with metadata and spec")
    missing = {
        part: [f"is required: PUT replaces the whole object; PATCH changes {what}"]
        for part, what in (("metadata", "labels alone"), ("spec", "spec fields alone"))
        if part not in data
    }
    if missing:
        raise ValidationError(missing)
    return data


# Stored sealed and never exported, yet part of the version: changing only a kubeconfig
# must invalidate the tags of those who read the cluster before. The ciphertext is only
# ever hashed, and is re-sealed only when the secret changes (applying compares unsealed).
_SECRETS = {"Cluster": ("credentials",), "GitSource": ("hook_secret",)}


def version(document: dict[str, Any], obj: Model) -> str:
    """The object's ETag: a digest of its exported document and its sealed secrets."""
    secrets = [getattr(obj, field) for field in _SECRETS.get(document["kind"], ())]
    return preconditions.etag(document, secrets)


def merged(current: dict[str, Any], data: Any) -> dict[str, Any]:
    """PATCH: the body's spec keys over the object's current document."""
    if not isinstance(data, dict):
        raise _refuse("non_field_errors", "send a JSON object with metadata and/or spec")
    spec = data.get("spec", {})
    if not isinstance(spec, dict):
        raise _refuse("spec", "must be a mapping")
    result = {**current, **{k: v for k, v in data.items() if k != "spec"}}
    result["spec"] = {**current.get("spec", {}), **spec}
    if "metadata" in data and isinstance(data["metadata"], dict):
        result["metadata"] = {**current.get("metadata", {}), **data["metadata"]}
    return result


def create(model: type[Model], document: dict[str, Any], actor: Any) -> Any:
    name = document["metadata"].get("name")
    if isinstance(name, str) and model._default_manager.filter(name=name).exists():
        raise Problem(409, f"{document['kind']} {name} exists; PUT or PATCH it to change it")
    _apply_one(document, actor)
    return model._default_manager.get(name=document["metadata"]["name"])


def replace(obj: Model, document: dict[str, Any], actor: Any) -> Any:
    _apply_one(document, actor)
    return type(obj)._default_manager.get(pk=obj.pk)


def checked(document: dict[str, Any]) -> dict[str, Any]:
    """The document, once validated as applying it would validate it (nothing written)."""
    configuration.validate(document)
    return document


def _apply_one(document: dict[str, Any], actor: Any) -> None:
    configuration.save(document, actor, via="api")
