"""The payload a server-side apply accepts, made from a manifest as its author wrote it.

`kubectl apply` (client side) sends a manifest that the API server decodes leniently:
`cpu: 0.1` becomes the quantity "100m", and a Service port without `protocol` gets TCP.
Server-side apply first converts the payload to the server's typed schema, which is strict,
and a Kubernetes 1.20 server answers, for the same manifest:

- `.spec.template.spec.containers[name="web"].resources.requests.cpu: expected string,
  got &value.valueUnstructured{Value:0.1}`: every field whose schema type is a Quantity
  (requests, limits, LimitRange and ResourceQuota values, PVC storage, emptyDir
  `sizeLimit`, HPA `averageValue`, Pod `overhead`) refuses a number;
- `.spec.ports: element 0: associative list with keys has an element that omits key field
  "protocol" (and doesn't have default value)`: an item of a keyed list (`x-kubernetes-
  list-type: map`) must carry every key field, and 1.20 publishes no default for Service
  ports' `protocol` (later servers do).

Numbers for plain string fields (an env `value: 8080`) are refused by `kubectl apply` as
well, so they are not converted: the form changes nothing a user could mean differently.
`apply_form` walks a manifest beside the server's own OpenAPI schema for its kind and
writes quantities as strings and missing key fields as their defaults. The manifest given
is not changed: the plan shows the values as written, the cluster receives this form.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from drift.engine.merge_keys import KEY_DEFAULTS

_QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
_REF_PREFIX = "#/definitions/"


class ApplySchema:
    """The server's OpenAPI v2 document (`/openapi/v2`), indexed by group, version, kind."""

    def __init__(self, openapi: Mapping[str, Any]) -> None:
        self.definitions: Mapping[str, Any] = openapi.get("definitions") or {}
        self._by_kind: dict[tuple[str, str, str], str] = {}
        for name, definition in self.definitions.items():
            for gvk in definition.get("x-kubernetes-group-version-kind") or ():
                key = (gvk.get("group", ""), gvk.get("version", ""), gvk.get("kind", ""))
                self._by_kind.setdefault(key, name)

    def definition_of(self, api_version: str, kind: str) -> str | None:
        group, _, version = api_version.rpartition("/")
        return self._by_kind.get((group, version, kind))

    def __len__(self) -> int:
        return len(self._by_kind)


def apply_form(manifest: dict[str, Any], schema: ApplySchema | None) -> dict[str, Any]:
    """A copy of ``manifest`` as the server's typed conversion accepts it; the manifest as
    it is when the schema does not know its kind (or there is no schema)."""
    if schema is None:
        return manifest
    name = schema.definition_of(str(manifest.get("apiVersion", "")), str(manifest.get("kind")))
    if name is None:
        return manifest
    converted: dict[str, Any] = _Walk(schema.definitions).value(manifest, {"$ref": name})
    return converted


class _Walk:
    def __init__(self, definitions: Mapping[str, Any]) -> None:
        self.definitions = definitions

    def value(self, value: Any, node: Mapping[str, Any] | None) -> Any:
        ref, node = self._resolve(node)
        if ref == _QUANTITY:
            return quantity_text(value)
        if node is None:
            return value
        if isinstance(value, dict):
            return self._object(value, node)
        if isinstance(value, list):
            return self._list(value, node)
        return value

    def _resolve(self, node: Mapping[str, Any] | None) -> tuple[str | None, Any]:
        """Follow `$ref`s (and a single-member `allOf`, as newer servers write a default
        next to a reference); the last definition name seen, and the node."""
        ref = None
        for _ in range(32):  # definitions refer to each other, never to themselves directly
            if node is None:
                return ref, None
            all_of = node.get("allOf")
            if isinstance(all_of, list) and len(all_of) == 1:
                node = all_of[0]
                continue
            target = node.get("$ref")
            if not isinstance(target, str):
                return ref, node
            ref = target.removeprefix(_REF_PREFIX)
            node = self.definitions.get(ref)
        return ref, node

    def _object(self, value: dict[str, Any], node: Mapping[str, Any]) -> dict[str, Any]:
        properties = node.get("properties") or {}
        extra = node.get("additionalProperties")
        extra = extra if isinstance(extra, Mapping) else None
        return {k: self.value(v, properties.get(k, extra)) for k, v in value.items()}

    def _list(self, value: list[Any], node: Mapping[str, Any]) -> list[Any]:
        items = node.get("items")
        converted = [
            self.value(item, items if isinstance(items, Mapping) else None) for item in value
        ]
        keys = node.get("x-kubernetes-list-map-keys")
        if node.get("x-kubernetes-list-type") != "map" or not isinstance(keys, list):
            return converted
        _, item_node = self._resolve(items if isinstance(items, Mapping) else None)
        defaults = self._key_defaults(keys, item_node)
        return [
            {**{k: d for k, d in defaults.items() if k not in item}, **item}
            if isinstance(item, dict)
            else item
            for item in converted
        ]

    def _key_defaults(self, keys: list[Any], item: Mapping[str, Any] | None) -> dict[str, Any]:
        """The default of each key field: the schema's own, else the documented one
        (KEY_DEFAULTS: Kubernetes 1.20 publishes none)."""
        properties = (item or {}).get("properties") or {}
        found = {}
        for key in keys:
            written = properties.get(key) or {}
            _, field = self._resolve(written)  # a default may sit beside an allOf reference
            default = written.get("default", (field or {}).get("default", KEY_DEFAULTS.get(key)))
            if default is not None:
                found[key] = default
        return found


def quantity_text(value: Any) -> Any:
    """A quantity written as a number (`0.1`, `2`, `1e9`) as the string the schema wants
    ("0.1", "2", "1000000000"); strings and anything else as they are."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    if isinstance(value, int):
        return str(value)
    # repr gives the shortest text that reads back as the same float (0.1, not
    # 0.1000000000000000055...); Decimal then writes it without an exponent.
    text = format(Decimal(repr(value)).normalize(), "f")
    return text
