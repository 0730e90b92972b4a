"""Desired state: what a policy's Git source declares, at one revision, for one cluster.

Reading Git and parsing manifests happens once per (repository, revision, sub-path) and is
cached in the process; namespace defaulting depends on the cluster (discovery says which
kinds are namespaced), so that part runs per cluster.
"""

from __future__ import annotations

import hashlib
import tempfile
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path, PurePosixPath
from typing import Any

from django.conf import settings

from drift import git, kustomize
from drift.engine import manifests
from drift.engine.compare import prepare
from drift.engine.manifests import Document, LoadError
from drift.engine.normalize import DesiredObject, ObjectKey, SecretHasher, split_api_version
from drift.engine.rules import selector_matches
from drift.kube import Discovery
from drift.models import DriftPolicy, GitSource

KUSTOMIZATION_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
SUFFIXES = (".yaml", ".yml", ".json")


@dataclass
class Revision:
    """The parsed documents of a source at one commit (shared by every cluster)."""

    sha: str
    documents: list[Document]
    errors: list[LoadError]
    files: int


@dataclass
class DesiredState:
    """What one policy declares for one cluster."""

    revision: str
    objects: dict[ObjectKey, DesiredObject] = field(default_factory=dict)
    errors: list[LoadError] = field(default_factory=list)
    files: int = 0

    @property
    def complete(self) -> bool:
        """Whether every manifest was read: only then can an absence in Git be trusted."""
        return not self.errors

    def kinds(self) -> set[tuple[str, str]]:
        """(apiVersion, kind) pairs the desired objects use."""
        return {(obj.api_version, obj.key.kind) for obj in self.objects.values()}


def secret_hasher() -> SecretHasher:
    """Secret values are compared through an HMAC keyed by this installation's secret."""
    key = hashlib.sha256(b"driftcontrol/secret-values/" + settings.SECRET_KEY.encode())
    return SecretHasher(key.digest())


def repository(source: GitSource) -> git.Repository:
    return git.Repository(
        source.url, Path(settings.VAR_DIR) / "git", timeout=settings.GIT_TIMEOUT_SECONDS
    )


class _RevisionCache:
    """A small LRU of parsed revisions: the watcher and scans re-read the same commit."""

    def __init__(self, size: int = 16) -> None:
        self._items: OrderedDict[tuple[str, str, str], Revision] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str, str]) -> Revision | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: tuple[str, str, str], revision: Revision) -> None:
        with self._lock:
            self._items[key] = revision
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


revisions = _RevisionCache()


def read_revision(source: GitSource, fetch: bool = True) -> Revision:
    """Fetch the source, resolve its ref and parse every manifest below its path."""
    repo = repository(source)
    if fetch:
        repo.fetch()
    sha = repo.resolve(source.ref)
    cache_key = (source.url, sha, source.path)
    cached = revisions.get(cache_key)
    if cached is not None:
        return cached
    files = repo.read(sha, source.path, suffixes=(*SUFFIXES, "Kustomization"))
    revision = _parse(repo, sha, source.path, files)
    if not any(error.file.endswith("(kustomize build)") for error in revision.errors):
        # A failed kustomize build may be passing (a remote base, a timeout); a parse
        # error depends only on the commit's content and stays true.
        revisions.put(cache_key, revision)
    return revision


def read_at(source: GitSource, sha: str) -> Revision:
    """The source at one commit (a plan's revision); fetched only if the commit is unknown."""
    repo = repository(source)
    cache_key = (source.url, sha, source.path)
    cached = revisions.get(cache_key)
    if cached is not None:
        return cached
    try:
        resolved = repo.resolve(sha)
    except git.GitError:
        repo.fetch()
        resolved = repo.resolve(sha)
    files = repo.read(resolved, source.path, suffixes=(*SUFFIXES, "Kustomization"))
    revision = _parse(repo, resolved, source.path, files)
    revisions.put(cache_key, revision)
    return revision


def _parse(repo: git.Repository, sha: str, subpath: str, files: list[git.SourceFile]) -> Revision:
    kustomized = _kustomization_dirs([f.path for f in files])
    documents: list[Document] = []
    errors: list[LoadError] = []
    read = 0
    for source_file in files:
        path = PurePosixPath(source_file.path)
        if (
            any(directory in path.parents for directory in kustomized)
            or path.name == "Kustomization"
            or not path.name.endswith(SUFFIXES)
        ):
            continue
        found, problems = manifests.parse(source_file.content, source_file.path)
        documents += found
        errors += problems
        read += 1
    for directory in sorted(kustomized):
        found, problems = _kustomize(repo, sha, str(directory))
        documents += found
        errors += problems
        read += 1
    return Revision(sha, documents, errors, read)


def _kustomization_dirs(paths: list[str]) -> set[PurePosixPath]:
    """The top-most directories holding a kustomization (their files belong to kustomize)."""
    found = {PurePosixPath(p).parent for p in paths if PurePosixPath(p).name in KUSTOMIZATION_NAMES}
    return {d for d in found if not any(other in d.parents for other in found)}


def _kustomize(
    repo: git.Repository, sha: str, directory: str
) -> tuple[list[Document], list[LoadError]]:
    label = f"{directory}/ (kustomize build)"
    try:
        command = kustomize.find_command(
            settings.DRIFTCONTROL_KUSTOMIZE or None, extra_candidates=settings.KUSTOMIZE_CANDIDATES
        )
    except kustomize.KustomizeUnavailable as error:
        return [], [
            LoadError(label, None, f"a kustomization is here but it cannot be built: {error}")
        ]
    with tempfile.TemporaryDirectory(prefix="driftcontrol-kustomize-") as scratch:
        # kustomize may reference files anywhere in the repository (../base): export it all.
        root = repo.export(sha, "", Path(scratch))
        try:
            text = kustomize.build(root / directory, command, timeout=settings.GIT_TIMEOUT_SECONDS)
        except kustomize.KustomizeError as error:
            return [], [LoadError(label, None, str(error))]
    return manifests.parse(text, label)


@dataclass(frozen=True)
class Scope:
    """Which objects a policy covers, from its namespace, kind and label filters."""

    namespaces_include: tuple[str, ...]
    namespaces_exclude: tuple[str, ...]
    kinds_include: tuple[str, ...]
    kinds_exclude: tuple[str, ...]
    object_selector: dict[str, Any]

    @classmethod
    def of(cls, policy: DriftPolicy) -> Scope:
        return cls(
            tuple(policy.namespaces.get("include", [])),
            tuple(policy.namespaces.get("exclude", [])),
            tuple(policy.kinds.get("include", [])),
            tuple(policy.kinds.get("exclude", [])),
            policy.object_selector or {},
        )

    def kind_in_scope(self, kind: str) -> bool:
        if self.kinds_include and not any(fnmatchcase(kind, p) for p in self.kinds_include):
            return False
        return not any(fnmatchcase(kind, p) for p in self.kinds_exclude)

    def namespace_in_scope(self, namespace: str) -> bool:
        if not namespace:
            return True  # cluster-scoped objects are not filtered by namespace
        if self.namespaces_include and not any(
            fnmatchcase(namespace, p) for p in self.namespaces_include
        ):
            return False
        return not any(fnmatchcase(namespace, p) for p in self.namespaces_exclude)

    def covers(self, key: ObjectKey, labels: dict[str, str] | None) -> bool:
        # A Namespace object belongs to the namespace it creates.
        namespace = key.name if key.kind == "Namespace" and not key.group else key.namespace
        return (
            self.kind_in_scope(key.kind)
            and self.namespace_in_scope(namespace)
            and (not self.object_selector or selector_matches(self.object_selector, labels or {}))
        )

    def listed_namespaces(self) -> list[str] | None:
        """Namespaces to list one by one (exact names), or None to list across all of them."""
        if self.namespaces_include and not any(
            set("*?[") & set(p) for p in self.namespaces_include
        ):
            return sorted(self.namespaces_include)
        return None


def for_cluster(
    revision: Revision, policy: DriftPolicy, discovery: Discovery, hasher: SecretHasher
) -> DesiredState:
    """The revision's objects as this cluster will hold them, within the policy's scope."""
    state = DesiredState(revision.sha, errors=list(revision.errors), files=revision.files)
    scope = Scope.of(policy)
    seen: dict[ObjectKey, str] = {}
    for document in revision.documents:
        obj = document.obj
        group, _ = split_api_version(obj["apiVersion"])
        namespaced = discovery.namespaced(group, obj["kind"])
        if namespaced is None:
            state.errors.append(
                LoadError(
                    document.file,
                    document.line,
                    f"{obj['kind']} ({obj['apiVersion']}) is not served by this cluster",
                )
            )
            continue
        metadata = dict(obj["metadata"])
        if namespaced:
            metadata["namespace"] = metadata.get("namespace") or policy.default_namespace
        else:
            metadata.pop("namespace", None)
        manifest = {**obj, "metadata": metadata}
        key = ObjectKey(group, obj["kind"], metadata.get("namespace", ""), metadata["name"])
        if not scope.covers(key, metadata.get("labels")):
            continue
        if key in seen:
            state.errors.append(
                LoadError(document.file, document.line, f"{key} is also declared at {seen[key]}")
            )
            continue
        seen[key] = document.source
        state.objects[key] = prepare(manifest, document.source, hasher, key)
    return state
