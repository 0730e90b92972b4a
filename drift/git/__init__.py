"""The one door to Git: desired state is read from commits, never from a checkout.

A remote repository is kept as a bare mirror in a cache directory, updated by `fetch()`;
a local path (bare or not) is read in place and never written to. Reading lists a tree and
pulls every blob through one `git cat-file --batch`, so a few processes serve any number
of files. Every git process runs without a shell, under a timeout, unable to prompt for a
password, and any credentials in the URL are kept out of messages.

Only https://, http://, ssh and, below directories the server's configuration names,
local repositories are read (`locations`); git itself is told to refuse every other
transport, and a remote that keeps timing out is left alone for a while (`fetching`).

Callers use what this package exports (`from drift import git`, then
`git.Repository(...)`); the submodules are split by concept: `locations` (which
repositories, refs and sub-paths a source may name: pure rules), `commands` (locating a
repository, running git; the only one that starts git), `errors` (and redaction),
`fetching` (mirrors), `refs`, `reading` (files at a commit), and `repository`, which puts
them together as `Repository`.
"""

from drift.git.commands import configured_roots
from drift.git.errors import GitError, redact
from drift.git.locations import allowed_protocols
from drift.git.locations import problems as source_problems
from drift.git.reading import Contents, Limits, SourceFile, TooLarge, Unread
from drift.git.repository import Repository

__all__ = [
    "Contents",
    "Limits",
    "TooLarge",
    "Unread",
    "GitError",
    "Repository",
    "SourceFile",
    "allowed_protocols",
    "configured_roots",
    "redact",
    "source_problems",
]
