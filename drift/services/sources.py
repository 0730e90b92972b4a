"""Git sources from the dashboard: a source as someone types it becomes a GitSource
document (saved only through `configuration`, as `drift apply` saves it), and a test
fetch shows what the typed URL, ref and path hold before anything is saved.

A test fetch clones into a temporary directory that is removed afterwards, not into the
scans' mirror cache: a URL that is only being tried leaves nothing behind, and a test
fetch that times out does not put the scans' mirror of the same URL into its backoff.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from django.conf import settings

from drift import declarative, git
from drift.git.errors import GitTimeout
from drift.services import desired

# A person is waiting for the answer: a test fetch gets at most this long (and never more
# than a scan's fetch may take), which clones a large configuration repository.
TEST_FETCH_SECONDS = 60
REFS_SHOWN = 50
_LABELS = {"url": "URL", "ref": "Ref", "path": "Path"}

# git's words for the usual failures, and what to check. First match wins: an
# unreachable host also says "unable to access", which would read like a refusal.
_CAUSES = (
    (
        ("could not resolve host", "could not resolve hostname", "name or service not known"),
        "The host could not be found: check the host name in the URL.",
    ),
    (
        ("connection refused", "failed to connect", "couldn't connect", "no route to host")
        + ("network is unreachable", "connection timed out", "operation timed out"),
        "The host could not be reached: check the host and port, and any firewall between.",
    ),
    (
        ("host key verification failed",),
        "ssh does not know this host's key: add it to this server's known_hosts.",
    ),
    (
        ("authentication failed", "could not read username", "could not read password")
        + ("terminal prompts disabled", "permission denied", "error: 401", "error: 403"),
        "The server refused access: the repository needs credentials this server lacks "
        "(a token in the URL, or an ssh key), or they are wrong.",
    ),
    (
        ("repository not found", "not found", "does not appear to be a git repository")
        + ("not a git repository", "does not exist"),
        "There is no Git repository at this URL.",
    ),
)


@dataclass
class FetchTrial:
    """What a typed URL, ref and path hold now; `error` says why the fetch failed."""

    url: str  # as shown: without credentials
    ref: str
    path: str
    seconds: float = 0.0
    error: str = ""
    branches: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    more_refs: int = 0  # branches and tags beyond those listed
    commit: str = ""
    ref_error: str = ""
    path_found: bool = False
    manifests: int = 0
    kustomizations: int = 0

    @property
    def fetched(self) -> bool:
        return not self.error


def document(
    name: str, url: str, ref: str, path: str, hook_secret: str | None = None
) -> dict[str, Any]:
    """The GitSource document a page's fields describe. ``hook_secret``: None keeps the
    stored secret, "" removes it."""
    spec: dict[str, Any] = {"url": url, "ref": ref, "path": path}
    if hook_secret is not None:
        spec["hookSecret"] = hook_secret
    return {
        "apiVersion": declarative.API_VERSION,
        "kind": "GitSource",
        "metadata": {"name": name},
        "spec": spec,
    }


def try_fetch(url: str, ref: str, path: str) -> FetchTrial:
    """Fetch url as typed and report its refs, the commit ref names and the manifests
    below path. Never raises for what the repository or the network does: `error`,
    `ref_error` and `path_found` say it in sentences."""
    ref = ref.strip() or "main"
    result = FetchTrial(git.redact(url), ref, path.strip().strip("/"))
    refused = git.source_problems(url, ref, path, git.configured_roots())
    if refused:
        result.error = " ".join(f"{_LABELS[name]}: {problem}." for name, problem in refused.items())
        return result
    limit = min(float(settings.GIT_TIMEOUT_SECONDS), TEST_FETCH_SECONDS)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="driftcontrol-test-fetch-") as scratch:
        try:
            repo = git.Repository(url, Path(scratch), timeout=limit)
            repo.fetch()
            _look(repo, result)
        except git.GitError as error:
            result.error = _explained(error, result.url, limit)
    result.seconds = time.monotonic() - started
    return result


def _look(repo: git.Repository, result: FetchTrial) -> None:
    """Fill in the refs, the commit and the manifests of a fetched repository."""
    found = repo.refs()
    names = len(found.branches) + len(found.tags)
    result.branches = found.branches[:REFS_SHOWN]
    result.tags = found.tags[: max(REFS_SHOWN - len(result.branches), 0)]
    result.more_refs = names - len(result.branches) - len(result.tags)
    try:
        result.commit = repo.resolve(result.ref)
    except git.GitError as error:
        if isinstance(error, GitTimeout):
            raise
        result.ref_error = (
            f"{result.ref!r} is neither a branch, a tag nor a commit of this repository."
        )
        return
    # Every file of the commit, listed without reading any: a zero byte budget leaves
    # every non-empty file unread, and an empty suffix matches every name.
    listing = repo.read_bounded(result.commit, "", ("",), git.Limits(total_bytes=0))
    paths = [f.path for f in listing.files] + [u.path for u in listing.unread]
    prefix = "/".join(PurePosixPath(result.path).parts)
    below = [p for p in paths if not prefix or p.startswith(f"{prefix}/")]
    # Git keeps no empty directories: a path exists when a file lies below it.
    result.path_found = bool(below)
    result.manifests = sum(p.endswith(desired.SUFFIXES) for p in below)
    result.kustomizations = sum(PurePosixPath(p).name in desired.KUSTOMIZATION_NAMES for p in below)


def _explained(error: git.GitError, shown: str, limit: float) -> str:
    """A sentence about what went wrong and what to check, then git's own words."""
    said = str(error)
    if isinstance(error, GitTimeout):
        return (
            f"{shown} did not answer within {limit:g} seconds: the host may drop the "
            "connection silently (a firewall), or the repository is too large to clone "
            f"in that time. ({said})"
        )
    lowered = said.lower()
    for words, sentence in _CAUSES:
        if any(word in lowered for word in words):
            return f"{sentence} ({said})"
    return f"The repository could not be fetched. ({said})"
