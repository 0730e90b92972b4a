"""GitSource documents: where a policy's desired state is read from, and the push hook's
shared secret.

The repository, ref and sub-path are checked here by the rules git applies when it reads
them (`drift.git.locations`), so a source the server would refuse at scan time (a remote
helper such as `fd::17`, a local path outside GIT_LOCAL_ROOTS, a ref that is an option)
is refused when it is declared, and nothing is stored.
"""

from __future__ import annotations

from pathlib import Path

from drift import git
from drift.declarative.reading import Planned, Reader

# The columns' lengths: longer values would fail at the database, after validation.
_LIMITS = {"url": 500, "ref": 255, "path": 500}


def read(reader: Reader, name: str, base: Path | None) -> Planned:
    reader.known(["url", "ref", "path", "hookSecret"])
    url = reader.get("url", str, "")
    ref = reader.get("ref", str, "main") or "main"
    path = reader.get("path", str, "")
    values = {"url": url, "ref": ref, "path": path}
    problems = git.source_problems(url, ref, path, git.configured_roots())
    for field, limit in _LIMITS.items():
        if len(values[field]) > limit:
            problems[field] = f"is longer than {limit} characters"
    for field, problem in problems.items():
        reader.problem(f"spec.{field}", problem)
    secret = reader.get("hookSecret", str, None)
    return Planned(
        "GitSource",
        name,
        {"url": url, "ref": ref, "path": path.strip("/")},
        hook_secret=secret,
    )
