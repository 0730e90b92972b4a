"""Desired state: what a policy's Git source declares, at one revision, for one cluster.

Reading Git and parsing manifests happens once per (repository, revision, sub-path) and is
cached in the process; namespace defaulting depends on the cluster (discovery says which
kinds are namespaced), so that part runs per cluster.

Git content is input an attacker may write, so what a source may make us hold is bounded
(the GIT_MAX_* and YAML_MAX_ALIAS_BYTES settings): a file over a limit, a symlink, or a
document whose aliases expand too far is not read, and is a problem with its file named,
which makes the scan partial like a manifest that does not parse.
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
from drift.engine.bounds import AliasBudget, size_text
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
    bytes: int = 0  # of manifests read and kustomize output: what the cache weighs


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
        # Weighed too: sixteen sources at the size limit would hold sixteen times the
        # memory a scan may take.
        with self._lock:
            self._items[key] = revision
            self._items.move_to_end(key)
            while len(self._items) > self._size or (
                len(self._items) > 1
                and sum(r.bytes for r in self._items.values()) > settings.GIT_MAX_SOURCE_BYTES
            ):
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
    revision = _parse(repo, sha, _read(repo, sha, source.path))
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
    revision = _parse(repo, resolved, _read(repo, resolved, source.path))
    revisions.put(cache_key, revision)
    return revision


def _limits() -> git.Limits:
    return git.Limits(settings.GIT_MAX_FILE_BYTES, settings.GIT_MAX_SOURCE_BYTES)


def _read(repo: git.Repository, sha: str, subpath: str) -> git.Contents:
    return repo.read_bounded(sha, subpath, (*SUFFIXES, "Kustomization"), _limits())


def _parse(repo: git.Repository, sha: str, contents: git.Contents) -> Revision:
    # A kustomization too large to read still hands its directory to kustomize.
    kustomized = _kustomization_dirs(
        [*(f.path for f in contents.files), *(u.path for u in contents.unread)]
    )
    budget = AliasBudget(settings.YAML_MAX_ALIAS_BYTES, "YAML_MAX_ALIAS_BYTES")
    documents: list[Document] = []
    errors = _unread_errors([u for u in contents.unread if not _under(u.path, kustomized)])
    read, size = 0, contents.bytes
    for source_file in contents.files:
        path = PurePosixPath(source_file.path)
        if _under(source_file.path, kustomized) or not path.name.endswith(SUFFIXES):
            continue
        found, problems = manifests.parse(source_file.content, source_file.path, budget)
        documents += found
        errors += problems
        read += 1
    for directory in sorted(kustomized):
        found, problems, built = _kustomize(repo, sha, str(directory), budget)
        documents += found
        errors += problems
        read, size = read + 1, size + built
    return Revision(sha, documents, errors, read, size)


def _under(path: str, directories: set[PurePosixPath]) -> bool:
    return any(directory in PurePosixPath(path).parents for directory in directories)


def _unread_errors(unread: list[git.Unread]) -> list[LoadError]:
    """What a bounded read left unread, as problems naming each file and the limit."""
    errors = []
    for item in unread:
        if item.why == "symlink":
            target = f" to {item.target[:200]!r}" if item.target else ""
            message = f"a symlink{target}; symlinks are not followed, so it was not read"
        elif item.why == "file_bytes":
            message = (
                f"{size_text(item.size)}, over the limit of "
                f"{size_text(settings.GIT_MAX_FILE_BYTES)} per file (GIT_MAX_FILE_BYTES); "
                "not read"
            )
        else:
            continue
        errors.append(LoadError(item.path, None, message))
    beyond = [item for item in unread if item.why == "total_bytes"]
    if beyond:
        more = f" (nor {len(beyond) - 1} later file(s))" if len(beyond) > 1 else ""
        errors.append(
            LoadError(
                beyond[0].path,
                None,
                f"not read{more}: the source's manifests pass the limit of "
                f"{size_text(settings.GIT_MAX_SOURCE_BYTES)} per source (GIT_MAX_SOURCE_BYTES)",
            )
        )
    return errors


def _kustomization_dirs(paths: list[str]) -> set[PurePosixPath]:
    """The top-most directories holding a kustomization (their files belong to kustomize)."""
    found = {PurePosixPath(p).parent for p in paths if PurePosixPath(p).name in KUSTOMIZATION_NAMES}
    return {d for d in found if not any(other in d.parents for other in found)}


def _kustomize(
    repo: git.Repository, sha: str, directory: str, budget: AliasBudget
) -> tuple[list[Document], list[LoadError], int]:
    """The objects kustomize builds in directory, its problems, and the bytes it wrote."""
    label = f"{directory}/ (kustomize build)"

    def failed(message: str) -> tuple[list[Document], list[LoadError], int]:
        return [], [LoadError(label, None, message)], 0

    try:
        command = kustomize.find_command(
            settings.DRIFTCONTROL_KUSTOMIZE or None, extra_candidates=settings.KUSTOMIZE_CANDIDATES
        )
    except kustomize.KustomizeUnavailable as error:
        return failed(f"a kustomization is here but it cannot be built: {error}")
    limit = settings.GIT_MAX_SOURCE_BYTES
    with tempfile.TemporaryDirectory(prefix="driftcontrol-kustomize-") as scratch:
        # kustomize may reference files anywhere in the repository (../base): export it all.
        try:
            root, left_out = repo.export_bounded(sha, "", Path(scratch), _limits())
        except git.TooLarge as error:
            return failed(
                f"not built: the repository's files come to {size_text(error.size)}, over the "
                f"limit of {size_text(limit)} per source (GIT_MAX_SOURCE_BYTES)"
            )
        try:
            text = kustomize.build(root / directory, command, timeout=settings.GIT_TIMEOUT_SECONDS)
        except kustomize.KustomizeError as error:
            return failed(f"{error}{_left_out(left_out)}")
    if len(text) > limit:
        return failed(
            f"the build wrote {size_text(len(text))}, over the limit of {size_text(limit)} "
            "per source (GIT_MAX_SOURCE_BYTES)"
        )
    documents, errors = manifests.parse(text, label, budget)
    return documents, errors, len(text)


def _left_out(left_out: list[git.Unread]) -> str:
    """Files the export left out, which may be why a build failed."""
    if not left_out:
        return ""
    shown = ", ".join(
        f"{item.path} (a symlink out of the repository)"
        if item.why == "symlink"
        else f"{item.path} ({size_text(item.size)}, over GIT_MAX_FILE_BYTES)"
        for item in left_out[:5]
    )
    more = f" and {len(left_out) - 5} more" if len(left_out) > 5 else ""
    return f" (left out of the build: {shown}{more})"


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
