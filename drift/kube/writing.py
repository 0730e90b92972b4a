"""Changing objects (apply, patch, replace, create, delete, each possibly as a dry run), and
asking whether this identity may."""

from __future__ import annotations

from typing import Any

from drift.kube.discovery import Resource
from drift.kube.transport import Transport


class Writing(Transport):
    """The writing part of `Kube`."""

    def apply(
        self,
        resource: Resource,
        manifest: dict[str, Any],
        field_manager: str,
        force: bool = False,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        """Server-side apply of ``manifest`` as ``field_manager``."""
        metadata = manifest.get("metadata") or {}
        query = _query(field_manager, dry_run) + ([("force", "true")] if force else [])
        result: dict[str, Any] = self._json(
            "PATCH",
            resource.path(metadata.get("namespace"), metadata["name"]),
            query,
            manifest,
            "application/apply-patch+yaml",
        )
        return result

    def patch(
        self,
        resource: Resource,
        namespace: str | None,
        name: str,
        operations: list[dict[str, Any]],
        field_manager: str,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        """A JSON patch (RFC 6902): all its operations or none, so `test` operations guard
        the others against a change made since the object was read."""
        query = _query(field_manager, dry_run)
        result: dict[str, Any] = self._json(
            "PATCH",
            resource.path(namespace, name),
            query,
            operations,
            "application/json-patch+json",
        )
        return result

    def replace(
        self,
        resource: Resource,
        manifest: dict[str, Any],
        dry_run: bool = False,
        field_manager: str = "driftcontrol",
    ) -> dict[str, Any]:
        """PUT the whole object (its metadata.resourceVersion guards against lost updates):
        fields the manifest lacks are removed, which an apply would leave to their owners."""
        metadata = manifest.get("metadata") or {}
        query = _query(field_manager, dry_run)
        result: dict[str, Any] = self._json(
            "PUT",
            resource.path(metadata.get("namespace"), metadata["name"]),
            query,
            manifest,
            "application/json",
        )
        return result

    def create(
        self,
        resource: Resource,
        manifest: dict[str, Any],
        dry_run: bool = False,
        field_manager: str = "driftcontrol",
    ) -> dict[str, Any]:
        namespace = (manifest.get("metadata") or {}).get("namespace")
        query = _query(field_manager, dry_run)
        result: dict[str, Any] = self._json(
            "POST", resource.path(namespace), query, manifest, "application/json"
        )
        return result

    def delete(
        self,
        resource: Resource,
        namespace: str | None,
        name: str,
        resource_version: str | None = None,
        dry_run: bool = False,
    ) -> None:
        body: dict[str, Any] = {
            "kind": "DeleteOptions",
            "apiVersion": "v1",
            "propagationPolicy": "Background",
        }
        if resource_version:
            body["preconditions"] = {"resourceVersion": resource_version}
        query = [("dryRun", "All")] if dry_run else []
        self._json("DELETE", resource.path(namespace, name), query, body, "application/json")

    def can_i(self, verb: str, resource: Resource, namespace: str | None = None) -> bool:
        """Whether this identity may ``verb`` the resource (a SelfSubjectAccessReview)."""
        review = {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview",
            "spec": {
                "resourceAttributes": {
                    "verb": verb,
                    "group": resource.group,
                    "resource": resource.plural,
                    **({"namespace": namespace} if namespace else {}),
                }
            },
        }
        answer = self._json(
            "POST",
            "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
            None,
            review,
            "application/json",
        )
        return bool((answer.get("status") or {}).get("allowed"))


def _query(field_manager: str, dry_run: bool) -> list[tuple[str, str]]:
    """Who writes, and whether only as a dry run (the server checks, stores nothing)."""
    return [("fieldManager", field_manager)] + ([("dryRun", "All")] if dry_run else [])
