"""The one door to Git: desired state is read from commits, never from a checkout.

A remote repository is kept as a bare mirror in a cache directory, updated by `fetch()`;
a local path (bare or not) is read in place and never written to. Reading lists a tree and
pulls every blob through one `git cat-file --batch`, so a few processes serve any number
of files. Every git process runs without a shell, under a timeout, unable to prompt for a
password, and any credentials in the URL are kept out of messages.

Callers use what this package exports (`from drift import git`, then
`git.Repository(...)`); the submodules are split by concept: `commands` (locating a
repository, running git; the only one that starts git), `errors` (and redaction),
`fetching` (mirrors), `refs`, `reading` (files at a commit), and `repository`, which puts
them together as `Repository`.
"""

from drift.git.errors import GitError, redact
from drift.git.reading import SourceFile
from drift.git.repository import Repository

__all__ = ["GitError", "Repository", "SourceFile", "redact"]
