"""The door to Kubernetes: the only module that imports the kubernetes client.

The client is used for what it does well (reading kubeconfigs: certificates, tokens,
exec plugins); requests go out raw and come back as plain dicts, because the engine
compares JSON and the client's model classes would cost more than the comparison.
Transient failures (timeouts, 429, 5xx) are retried with backoff; permanent ones raise
a `KubeError` subclass that says what was refused and why.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import urllib3
import yaml
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes.config.config_exception import ConfigException

TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})


class KubeError(Exception):
    """A request the API server refused or could not answer."""

    def __init__(self, message: str, status: int | None = None, reason: str = "") -> None:
        super().__init__(message)
        self.status, self.reason = status, reason


class BadKubeconfig(KubeError):
    """The kubeconfig cannot be used (syntax, unknown context, missing credentials)."""


class Unreachable(KubeError):
    """No answer after retries: network, TLS, timeouts, or the server kept failing."""


class Forbidden(KubeError):
    """403: the identity's RBAC does not allow it."""


class NotFound(KubeError):
    """404: no such object or resource type."""


class Conflict(KubeError):
    """409: a conflicting change (field manager conflict, resourceVersion mismatch)."""


class Gone(KubeError):
    """410: the resourceVersion a watch asked for is too old; list again."""


_BY_STATUS: dict[int, type[KubeError]] = {403: Forbidden, 404: NotFound, 409: Conflict, 410: Gone}


@dataclass(frozen=True, slots=True)
class Resource:
    """One served resource type in one API version."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    verbs: frozenset[str]

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(self, namespace: str | None = None, name: str | None = None) -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{quote(namespace, safe='')}"
        base += f"/{self.plural}"
        return base + (f"/{quote(name, safe='')}" if name else "")


@dataclass
class Discovery:
    """What the server serves: resources by (apiVersion, kind), preferred versions by group."""

    resources: dict[tuple[str, str], Resource] = field(default_factory=dict)
    preferred: dict[tuple[str, str], Resource] = field(default_factory=dict)  # (group, kind)
    unavailable: dict[str, str] = field(default_factory=dict)  # groupVersion -> why

    def find(self, api_version: str, kind: str) -> Resource | None:
        return self.resources.get((api_version, kind))

    def namespaced(self, group: str, kind: str) -> bool | None:
        """Whether a kind is namespaced; None when the server does not serve it."""
        found = self.preferred.get((group, kind))
        if found is None:
            found = next(
                (r for (g_v, k), r in self.resources.items() if k == kind and r.group == group),
                None,
            )
        return None if found is None else found.namespaced

    def listable(self) -> list[Resource]:
        """One resource per (group, kind), in its preferred version, that can be listed."""
        return [r for r in self.preferred.values() if {"list", "watch"} <= r.verbs]


@dataclass
class Page:
    items: list[dict[str, Any]]
    resource_version: str


class Kube:
    """A connection to one cluster, from a kubeconfig's content and an optional context."""

    def __init__(
        self,
        kubeconfig: str,
        context: str | None = None,
        timeout: tuple[float, float] = (5.0, 30.0),
        retries: int = 3,
    ) -> None:
        try:
            config = yaml.safe_load(kubeconfig)
        except yaml.YAMLError as error:
            raise BadKubeconfig(f"the kubeconfig is not valid YAML: {error}") from None
        if not isinstance(config, dict) or not config.get("clusters"):
            raise BadKubeconfig("the kubeconfig defines no clusters")
        configuration = k8s_client.Configuration()
        # This module retries with backoff itself; urllib3's own retries would multiply them.
        configuration.retries = False
        try:
            self._api = k8s_config.new_client_from_config_dict(  # type: ignore[no-untyped-call]
                config,
                context=context or None,
                persist_config=False,
                client_configuration=configuration,
            )
        except (ConfigException, KeyError, ValueError, TypeError) as error:
            where = f"context {context!r}" if context else "its current context"
            raise BadKubeconfig(f"the kubeconfig cannot be used with {where}: {error}") from None
        self.server: str = self._api.configuration.host
        self.timeout, self.retries = timeout, retries

    # --- requests ---------------------------------------------------------------------

    def _send(
        self,
        method: str,
        path: str,
        query: list[tuple[str, str]] | None = None,
        body: dict[str, Any] | None = None,
        content_type: str | None = None,
        timeout: tuple[float, float] | None = None,
    ) -> Any:
        headers = {"Accept": "application/json"}
        if content_type:
            headers["Content-Type"] = content_type
        attempt = 0
        while True:
            attempt += 1
            try:
                method_, url, headers_, body_, _ = self._api.param_serialize(
                    method=method,
                    resource_path=path,
                    query_params=query or [],
                    header_params=dict(headers),
                    body=body,
                    auth_settings=["BearerToken"],
                )
                response = self._api.rest_client.request(
                    method_,
                    url,
                    headers=headers_,
                    body=body_,
                    _request_timeout=timeout or self.timeout,
                )
            except (urllib3.exceptions.HTTPError, OSError) as error:
                if attempt > self.retries:
                    raise Unreachable(
                        f"{self.server}: no answer to {method} {path} after "
                        f"{attempt} attempts ({_short(error)})"
                    ) from None
                self._backoff(attempt)
                continue
            if response.status in TRANSIENT_STATUSES and attempt <= self.retries:
                response.read()
                self._backoff(attempt, response.getheader("Retry-After"))
                continue
            return response

    def _backoff(self, attempt: int, retry_after: str | None = None) -> None:
        delay = min(8.0, 0.25 * 2 ** (attempt - 1)) * (0.5 + random.random())
        if retry_after and retry_after.isdigit():
            delay = min(float(retry_after), 30.0)
        time.sleep(delay)

    def _json(
        self,
        method: str,
        path: str,
        query: list[tuple[str, str]] | None = None,
        body: dict[str, Any] | None = None,
        content_type: str | None = None,
    ) -> Any:
        response = self._send(method, path, query, body, content_type)
        data = response.read()
        if response.status >= 400:
            raise _error(response.status, data, method, path, self.server)
        return json.loads(data) if data else {}

    # --- the API ----------------------------------------------------------------------

    def version(self) -> str:
        return str(self._json("GET", "/version").get("gitVersion", ""))

    def discover(self) -> Discovery:
        """Every served resource, in every served version (reads run in parallel)."""
        discovery = Discovery()
        group_versions: list[tuple[str, str, bool]] = [
            ("", version, True) for version in self._json("GET", "/api").get("versions", [])
        ]
        for group in self._json("GET", "/apis").get("groups", []):
            preferred = (group.get("preferredVersion") or {}).get("version")
            for version in group.get("versions", []):
                group_versions.append(
                    (group["name"], version["version"], version["version"] == preferred)
                )

        def read(entry: tuple[str, str, bool]) -> tuple[tuple[str, str, bool], Any]:
            group, version, _ = entry
            path = f"/apis/{group}/{version}" if group else f"/api/{version}"
            try:
                return entry, self._json("GET", path)
            except KubeError as error:
                return entry, error

        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = list(pool.map(read, group_versions))
        for (group, version, preferred), answer in answers:
            group_version = f"{group}/{version}" if group else version
            if isinstance(answer, KubeError):
                discovery.unavailable[group_version] = str(answer)
                continue
            for item in answer.get("resources", []):
                if "/" in item["name"]:
                    continue  # subresources (pods/status, deployments/scale)
                resource = Resource(
                    group,
                    version,
                    item["kind"],
                    item["name"],
                    bool(item.get("namespaced")),
                    frozenset(item.get("verbs", [])),
                )
                discovery.resources[(resource.api_version, resource.kind)] = resource
                if preferred:
                    discovery.preferred[(group, resource.kind)] = resource
        return discovery

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

    def watch(
        self,
        resource: Resource,
        namespace: str | None,
        resource_version: str,
        timeout_seconds: int = 300,
    ) -> WatchStream:
        """Open a watch for events after ``resource_version``; iterate the stream for them.

        Raises Gone (here or while iterating) when the version is too old: list again.
        """
        query = [
            ("watch", "1"),
            ("allowWatchBookmarks", "true"),
            ("resourceVersion", resource_version),
            ("timeoutSeconds", str(timeout_seconds)),
        ]
        response = self._send(
            "GET",
            resource.path(namespace),
            query,
            timeout=(self.timeout[0], timeout_seconds + 15.0),
        )
        if response.status >= 400:
            raise _error(
                response.status, response.read(), "WATCH", resource.path(namespace), self.server
            )
        return WatchStream(response.response, resource, self.server)

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
        query = [("fieldManager", field_manager)]
        if force:
            query.append(("force", "true"))
        if dry_run:
            query.append(("dryRun", "All"))
        result: dict[str, Any] = self._json(
            "PATCH",
            resource.path(metadata.get("namespace"), metadata["name"]),
            query,
            manifest,
            "application/apply-patch+yaml",
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
        query = [("fieldManager", field_manager)] + ([("dryRun", "All")] if dry_run else [])
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
        query = [("fieldManager", field_manager)] + ([("dryRun", "All")] if dry_run else [])
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


class WatchStream:
    """An open watch. Iterating yields (type, object) until the server ends it; `close()`,
    from any thread, ends it at once (a blocking read would otherwise wait for the next
    event or the server's timeout)."""

    def __init__(self, response: Any, resource: Resource, server: str) -> None:
        self._response, self._resource, self._server = response, resource, server
        self._closed = False

    def __iter__(self) -> Iterator[tuple[str, dict[str, Any]]]:
        resource = self._resource
        try:
            for line in _lines(self._response):
                event = json.loads(line)
                kind, obj = event.get("type", ""), event.get("object") or {}
                if kind == "ERROR":
                    code = int(obj.get("code") or 500)
                    raise _BY_STATUS.get(code, KubeError)(
                        f"watch of {resource.plural}: {obj.get('message', '')}",
                        code,
                        str(obj.get("reason", "")),
                    )
                if kind != "BOOKMARK":
                    obj.setdefault("apiVersion", resource.api_version)
                    obj.setdefault("kind", resource.kind)
                yield kind, obj
        except (urllib3.exceptions.HTTPError, OSError, ValueError) as error:
            if self._closed:
                return
            raise Unreachable(
                f"{self._server}: watch of {resource.plural} broke off ({_short(error)})"
            ) from None
        finally:
            self._response.release_conn()

    def close(self) -> None:
        self._closed = True
        self._response.shutdown()  # unblocks a read in progress in another thread


def _lines(response: Any) -> Iterator[bytes]:
    buffer = b""
    for chunk in response.stream(amt=None, decode_content=False):
        buffer += chunk
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            if line.strip():
                yield line
    if buffer.strip():
        yield buffer


def _error(status: int, data: bytes, method: str, path: str, server: str) -> KubeError:
    reason, message = "", ""
    try:
        body = json.loads(data)
        reason, message = str(body.get("reason", "")), str(body.get("message", ""))
    except (ValueError, AttributeError):
        message = data[:300].decode(errors="replace") if data else ""
    error_type = _BY_STATUS.get(status, Unreachable if status in TRANSIENT_STATUSES else KubeError)
    return error_type(
        f"{method} {path} on {server}: {status} {reason}: {message}".strip(), status, reason
    )


def _short(error: BaseException) -> str:
    text = str(error)
    return text if len(text) < 200 else text[:197] + "..."
