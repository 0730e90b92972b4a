"""What a server is and serves: its version, and every resource type in every version."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from drift.kube.errors import KubeError
from drift.kube.transport import Transport


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
    """What the server serves: resources by (apiVersion, kind), and each kind in its
    group's preferred version (or, where that version lacks it, in the newest serving it)."""

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


class Discovering(Transport):
    """The discovery part of `Kube`."""

    def version(self) -> str:
        return str(self._json("GET", "/version").get("gitVersion", ""))

    def openapi(self) -> dict[str, Any]:
        """The server's OpenAPI v2 document (`/openapi/v2`): the schema of every kind it
        serves, custom resources included; several MB, so callers keep it a while."""
        document: dict[str, Any] = self._json("GET", "/openapi/v2")
        return document

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
        # A kind its group's preferred version does not serve (CronJob is batch/v1beta1
        # only on 1.20, while batch prefers v1) is preferred in the first other version
        # that serves it, the server listing the newest first, as kubectl api-resources does.
        others: dict[tuple[str, str], Resource] = {}
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
                else:
                    others.setdefault((group, resource.kind), resource)
        for key, resource in others.items():
            discovery.preferred.setdefault(key, resource)
        return discovery
