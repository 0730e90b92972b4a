"""Which repositories, refs and sub-paths a Git source may name: pure rules, checked when a
source is declared (`drift apply`, the API) and again by git at run time, with the same words.

Remote repositories are reached over https://, http:// or ssh (`ssh://` or scp-like
`user@host:path`). Every other transport is refused: git's remote helpers run programs
(`ext::sh -c ...`) or talk to file descriptors (`fd::17`, which hangs until the timeout).
Plain http:// stays allowed because in-house Git servers (Gitea, a mirror on a private
network) often speak nothing else; it changes who can read or alter the traffic, not what
the server runs or reads. A local repository (a path, or `file://`) is read only below a
directory the server's own configuration names (GIT_LOCAL_ROOTS), compared after resolving
symlinks and `..`, so a source cannot read any other repository on the server's disk.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from urllib.parse import unquote, urlsplit

from drift.git.errors import GitError, redact

ACCEPTED = "https://host/repo (or http://), ssh://host/repo or user@host:repo"
REMOTE_PROTOCOLS = ("http", "https", "ssh")  # git's names, as GIT_ALLOW_PROTOCOL takes them

_SCHEME = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*)://")
# git reads `[user@]host:path` as ssh when the colon comes before any slash. A host must
# look like one: `fd::17` and `ext::cmd` (a remote helper's `name::address`) must not pass.
_SCP = re.compile(
    r"(?:[A-Za-z0-9_][A-Za-z0-9._+-]*@)?"
    r"(?:[A-Za-z0-9][A-Za-z0-9.-]*|\[[0-9A-Fa-f:.]+\])"
    r":(?P<path>[^:/][^:]*|/.*)"
)
_HOST = re.compile(r"[A-Za-z0-9_\[][A-Za-z0-9._:\[\]%-]*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Location:
    """Where a source's repository is: git is given `url`; `local` is the resolved
    directory when it is read in place on this machine (a path, not `file://`)."""

    url: str
    local: str | None = None


def locate(url: str, local_roots: Sequence[str]) -> Location:
    """The location url names, or a GitError saying why this server refuses it."""
    problem, location = _examine(url, local_roots)
    if location is None:
        raise GitError(problem)
    return location


def url_problem(url: str, local_roots: Sequence[str]) -> str | None:
    """Why this server refuses url as a source's repository; None when it accepts it."""
    return _examine(url, local_roots)[0] or None


def ref_problem(ref: str) -> str | None:
    """Why ref cannot name a revision; None when it can. Refs become command arguments and
    lines of `git cat-file --batch` input: no options, no spaces or line breaks."""
    if not ref or ref.startswith("-") or any(c.isspace() for c in ref) or _CONTROL.search(ref):
        return f"{ref!r} is not a valid ref: it may not be empty, start with '-' or hold spaces"
    return None


def subpath_problem(subpath: str) -> str | None:
    """Why subpath cannot name a directory of the repository; None when it can."""
    if any(character in "\n\r\0" for character in subpath):
        return f"sub-path {subpath!r} contains a line break or NUL"
    if ".." in PurePosixPath(subpath.strip()).parts:
        return f"sub-path {subpath!r} must stay inside the repository"
    return None


def allowed_protocols(local_roots: Sequence[str]) -> str:
    """GIT_ALLOW_PROTOCOL for git itself: the remote transports, and `file` only when this
    server reads local repositories at all."""
    return ":".join((*REMOTE_PROTOCOLS, "file") if local_roots else REMOTE_PROTOCOLS)


def _examine(url: str, local_roots: Sequence[str]) -> tuple[str, Location | None]:
    shown = redact(url)
    if not url.strip():
        return "is required: a clone URL or a local repository path", None
    if _CONTROL.search(url):
        return f"{shown!r} contains a control character", None
    scheme = _SCHEME.match(url)
    if scheme is not None:
        return _examine_url(url, scheme["scheme"], local_roots)
    if url.startswith("/"):
        return _examine_local(url, url, local_roots, in_place=True)
    if _SCP.fullmatch(url) and not any(c.isspace() for c in url):
        return "", Location(url)
    if "::" in url:
        return (
            f"{shown!r} names a git remote helper (`transport::address`); this server "
            f"only reads {_accepted(local_roots)}",
            None,
        )
    if ":" not in url and local_roots:
        return f"{shown!r} is a relative path: give a local repository's absolute path", None
    accepted = _accepted(local_roots)
    return f"{shown!r} is not a repository location this server reads: use {accepted}", None


def _examine_url(url: str, scheme: str, local_roots: Sequence[str]) -> tuple[str, Location | None]:
    shown = redact(url)
    if scheme == "file":
        parts = urlsplit(url)
        if parts.netloc not in ("", "localhost"):
            return f"{shown!r} names another machine's files; use {_accepted(local_roots)}", None
        # Cloned into the cache like a remote (and with git's `file` transport).
        return _examine_local(url, unquote(parts.path), local_roots, in_place=False)
    if scheme not in REMOTE_PROTOCOLS:
        accepted = _accepted(local_roots)
        return f"{scheme}:// is not a transport this server uses: use {accepted}", None
    if any(c.isspace() for c in url):
        return f"{shown!r} contains a space (write it as %20)", None
    try:
        netloc = urlsplit(url).netloc
    except ValueError as error:
        return f"{shown!r} is not a valid URL: {error}", None
    host = netloc.rpartition("@")[2]
    if not _HOST.fullmatch(host):
        return f"{shown!r} does not name a host", None
    return "", Location(url)


def _examine_local(
    url: str, path: str, local_roots: Sequence[str], in_place: bool
) -> tuple[str, Location | None]:
    shown = redact(url)
    if not local_roots:
        return (
            f"{shown!r} is a local path, and this server reads no local repositories "
            f"(GIT_LOCAL_ROOTS is empty): use {ACCEPTED}",
            None,
        )
    if not path.startswith("/"):
        return f"{shown!r} is a relative path: give a local repository's absolute path", None
    # realpath resolves `..` and every symlink, so what is compared is what git would open.
    resolved = os.path.realpath(path)
    for root in local_roots:
        real_root = os.path.realpath(root)
        if os.path.commonpath([real_root, resolved]) == real_root:
            return "", Location(url, local=resolved if in_place else None)
    roots = ", ".join(local_roots)
    return (
        f"{shown!r} is outside the directories this server reads local repositories from "
        f"(GIT_LOCAL_ROOTS: {roots})",
        None,
    )


def _accepted(local_roots: Sequence[str]) -> str:
    return (
        f"{ACCEPTED}, or a local path below {', '.join(local_roots)}" if local_roots else ACCEPTED
    )


def problems(url: str, ref: str, subpath: str, local_roots: Sequence[str]) -> dict[str, str]:
    """Why this server refuses a source's url, ref or path, by field; empty when it accepts
    all three."""
    found = {
        "url": url_problem(url, local_roots),
        "ref": ref_problem(ref),
        "path": subpath_problem(subpath),
    }
    return {name: problem for name, problem in found.items() if problem is not None}
