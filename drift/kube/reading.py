"""Reading objects: whole lists in pages, or one object by name."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from drift.kube.discovery import Resource
from drift.kube.errors import Gone, NotFound
from drift.kube.transport import Transport


@dataclass
class Page:
    items: list[dict[str, Any]]
    resource_version: str


class Reading(Transport):
    """The reading part of `Kube`."""

    def pages(
        self,
        resource: Resource,
        namespace: str | None = None,
        label_selector: str | None = None,
        page_size: int = 500,
    ) -> Iterator[Page]:
        """List in pages (limit/continue); each item gets its apiVersion and kind back."""
        token = ""
        while True:
            query = [("limit", str(page_size))]
            if token:
                query.append(("continue", token))
            if label_selector:
                query.append(("labelSelector", label_selector))
            try:
                answer = self._json("GET", resource.path(namespace), query)
            except Gone:
                if not token:
                    raise
                # The continue token expired mid-list: start over from a fresh snapshot.
                token = ""
                continue
            items = answer.get("items") or []
            for item in items:
                item["apiVersion"], item["kind"] = resource.api_version, resource.kind
            metadata = answer.get("metadata") or {}
            yield Page(items, str(metadata.get("resourceVersion", "")))
            token = metadata.get("continue") or ""
            if not token:
                return

    def get(self, resource: Resource, namespace: str | None, name: str) -> dict[str, Any] | None:
        try:
            obj: dict[str, Any] = self._json("GET", resource.path(namespace, name))
        except NotFound:
            return None
        obj.setdefault("apiVersion", resource.api_version)
        obj.setdefault("kind", resource.kind)
        return obj
