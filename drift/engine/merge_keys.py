"""How lists compare in the built-in kinds: by merge key, as a set, or whole (atomic).

These are the strategic-merge keys of the Kubernetes API types (`patchMergeKey` and
`listMapKeys`). A keyed list compares item by item, so a sidecar injected at position 0
does not make every container look changed. A list without merge keys (RoleBinding
subjects, container args, NetworkPolicy rules) is atomic: it compares as a whole, item by
item in order, each item compared as declared (so server defaults inside items are fine).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

CONTAINER_LISTS = frozenset({"containers", "initContainers", "ephemeralContainers"})
ATOMIC, KEYED, SET = "atomic", "keyed", "set"


@dataclass(frozen=True, slots=True)
class ListSpec:
    mode: str
    fields: tuple[str, ...] = ()
    defaults: tuple[Any, ...] = ()  # one per field; None where the field has no default

    def identity(self, item: Any) -> tuple[Any, ...] | None:
        """The item's merge key values, defaults filled in; None when it has none.

        A tuple, cheap to build and hash: the diff computes it for every list item.
        """
        if not isinstance(item, Mapping):
            return None
        if len(self.fields) == 1:
            value = item.get(self.fields[0])
            return None if value is None else (value,)
        values = []
        for name, default in zip(self.fields, self.defaults, strict=True):
            value = item.get(name, default)
            if value is None:
                return None
            values.append(value)
        return tuple(values)

    def with_defaults(self, item: Any) -> Any:
        """The item with the key fields it omits set to their defaults (`protocol: TCP`):
        what the server stores, and what a server-side apply of it owns."""
        if not isinstance(item, Mapping):
            return item
        missing = {
            name: default
            for name, default in zip(self.fields, self.defaults, strict=True)
            if default is not None and name not in item
        }
        return {**item, **missing} if missing else item

    def identity_of_key(self, raw: str) -> tuple[Any, ...] | None:
        """The identity named by a FieldsV1 `k:` segment (its JSON after the prefix)."""
        try:
            values = json.loads(raw)
        except ValueError:
            return None
        return self.identity(values) if isinstance(values, dict) else None

    def key(self, item: Any) -> str | None:
        """The item's identity as FieldsV1 writes it after `k:` (`{"name":"web"}`)."""
        identity = self.identity(item)
        return (
            None if identity is None else canonical(dict(zip(self.fields, identity, strict=True)))
        )


def canonical(value: Any) -> str:
    """JSON as the API server writes FieldsV1 keys: sorted keys, no spaces."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _keyed(*fields: str, **defaults: Any) -> ListSpec:
    return ListSpec(KEYED, fields, tuple(defaults.get(name) for name in fields))


# Defaults of key fields, as the API documents them ("Protocol for port. Must be UDP, TCP,
# or SCTP. Defaults to "TCP"."): the server fills them in, so an item that omits one has
# the same identity as one that spells it out.
KEY_DEFAULTS: dict[str, Any] = {"protocol": "TCP"}

_ATOMIC = ListSpec(ATOMIC)
_SET = ListSpec(SET)
_BY_NAME = _keyed("name")
_CONTAINER_PORT = _keyed("containerPort", "protocol", **KEY_DEFAULTS)
_SERVICE_PORT = _keyed("port", "protocol", **KEY_DEFAULTS)

# field name -> spec, for lists whose key does not depend on where they sit.
_ANYWHERE: dict[str, ListSpec] = {
    "containers": _BY_NAME,
    "initContainers": _BY_NAME,
    "ephemeralContainers": _BY_NAME,
    "volumes": _BY_NAME,
    "imagePullSecrets": _BY_NAME,
    "hostAliases": _keyed("ip"),
    "topologySpreadConstraints": _keyed("topologyKey", "whenUnsatisfiable"),
    "ownerReferences": _keyed("uid"),
    "finalizers": _SET,
    "conditions": _keyed("type"),
}
# (containing list, field name) -> spec, for lists inside container items.
_IN_CONTAINER: dict[str, ListSpec] = {
    "env": _BY_NAME,
    "ports": _CONTAINER_PORT,
    "volumeMounts": _keyed("mountPath"),
    "volumeDevices": _keyed("devicePath"),
    "resizePolicy": _keyed("resourceName"),
}
_WEBHOOK_KINDS = frozenset({"MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"})


def spec_for(field: str, owner: str | None, parent: str | None, kind: str) -> ListSpec:
    """The comparison of list ``field``.

    ``owner`` is the list that holds the dict containing the field (``containers`` for a
    container's ``ports``), ``parent`` the key of that dict (``spec`` for a Service's
    ``ports``), ``kind`` the object's kind.
    """
    if owner in CONTAINER_LISTS:
        found = _IN_CONTAINER.get(field)
        if found is not None:
            return found
    if field == "ports" and kind == "Service" and parent == "spec" and owner is None:
        return _SERVICE_PORT
    if field == "webhooks" and kind in _WEBHOOK_KINDS:
        return _BY_NAME
    return _ANYWHERE.get(field, _ATOMIC)
