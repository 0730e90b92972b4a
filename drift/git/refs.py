"""Refs: what commit a branch, tag or sha names, and which refs there are when it is none."""

from __future__ import annotations

from dataclasses import dataclass

from drift.git.commands import GitCommands
from drift.git.errors import GitError, tail
from drift.git.locations import ref_problem

_REFS_SHOWN = 10


@dataclass(frozen=True)
class RefNames:
    """The branches and tags of a repository, newest first."""

    branches: list[str]
    tags: list[str]


class Refs(GitCommands):
    """The ref part of `Repository`."""

    def resolve(self, ref: str) -> str:
        """The 40-hex commit a branch, tag (peeled) or commit sha (or prefix) names now."""
        self._require_copy()
        check_revision(ref)
        code, out, err = self._call(
            ("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"),
            doing=f"resolving {ref!r} in {self.display}",
        )
        if code == 0:
            return out.decode().strip()
        said = tail(err, self._secrets)
        detail = f": {said}" if said else ""
        raise GitError(
            f"ref {ref!r} not found in {self.display} ({self._available_refs()}){detail}"
        )

    def refs(self) -> RefNames:
        """Every branch and tag of the copy (a mirror after `fetch()`), newest first."""
        self._require_copy()
        out = self._git(
            "for-each-ref",
            "--sort=-creatordate",
            "--format=%(refname)",
            "refs/heads/",
            "refs/tags/",
            doing=f"listing refs of {self.display}",
        )
        names = out.decode(errors="replace").split()
        return RefNames(
            branches=[n.removeprefix("refs/heads/") for n in names if n.startswith("refs/heads/")],
            tags=[n.removeprefix("refs/tags/") for n in names if n.startswith("refs/tags/")],
        )

    def _available_refs(self) -> str:
        found = self.refs()
        return f"branches: {_few(found.branches)}; tags: {_few(found.tags)}"


def check_revision(revision: str) -> None:
    """Refuse what cannot be a ref (the rule a source's `ref` is declared under)."""
    problem = ref_problem(revision)
    if problem is not None:
        raise GitError(problem)


def _few(names: list[str]) -> str:
    if not names:
        return "none"
    shown = ", ".join(names[:_REFS_SHOWN])
    more = len(names) - _REFS_SHOWN
    return f"{shown} and {more} more" if more > 0 else shown
