"""The one door to Git: desired state is read from commits, never from a checkout.

A remote repository is kept as a bare mirror in a cache directory, updated by `fetch()`;
a local path (bare or not) is read in place and never written to. Reading lists a tree and
pulls every blob through one `git cat-file --batch`, so a few processes serve any number
of files. Every git process runs without a shell, under a timeout, unable to prompt for a
password, and any credentials in the URL are kept out of messages.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

from drift import processes

# Branches and tags only: a `--mirror` refspec (refs/*) would also drag in every pull
# request head a hosting service publishes. `+` lets moved tags and rewritten branches in.
_REFSPECS = ("+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*")

# Variables that would point git at some other repository than the one we name, e.g. when
# the worker itself runs inside a git hook.
_REPOSITORY_VARIABLES = frozenset(
    {"GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY", "GIT_COMMON_DIR"}
    | {"GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_NAMESPACE", "GIT_PREFIX"}
)

_SETTINGS = (
    # Neither a repository we mirror nor a local one we read may run its code here.
    "core.hooksPath=/dev/null",
    "core.fsmonitor=false",
    # A detached auto-gc would outlive the timeout and the fetch lock.
    "gc.autoDetach=false",
)
_CONFIG = tuple(argument for setting in _SETTINGS for argument in ("-c", setting))

# Greedy up to the last "@" before the path: an unencoded "@" in a password is still hidden.
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/\s'\"]+)@")
_SYMLINK_MODE = b"120000"
_STDERR_LINES = 5
_REFS_SHOWN = 10


class GitError(Exception):
    """A git operation failed; the message names the repository (without credentials)."""


@dataclass(frozen=True)
class SourceFile:
    """One file of desired state, as committed."""

    path: str  # posix path relative to the repository root, e.g. "k8s/base/deploy.yaml"
    content: bytes


def redact(text: str) -> str:
    """The text with URL passwords (and bare HTTP tokens used as user names) replaced by ***."""

    def hide(match: re.Match[str]) -> str:
        scheme, userinfo = match["scheme"], match["userinfo"]
        user, colon, _ = userinfo.partition(":")
        if colon:
            return f"{scheme}{user}:***@"
        # https://TOKEN@host/... is how several hosting services take an access token.
        if scheme.lower().startswith("http"):
            return f"{scheme}***@"
        return match.group(0)

    return _USERINFO.sub(hide, text)


class Repository:
    """A Git repository to read desired state from: a clone URL or a local path.

    Remote repositories are mirrored as `<cache_dir>/<hash>.git`, with `<hash>.lock` next to
    it serialising clones and fetches; `<hash>` comes from the URL without its password.
    """

    def __init__(self, url: str, cache_dir: Path, timeout: float = 120.0) -> None:
        self._url = url
        self.display = redact(url)
        self.timeout = timeout
        self._secrets = _secrets_of(url)
        self.mirror: Path | None
        if _is_local_path(url):
            path = Path(url).expanduser().absolute()
            self.mirror = None
            # An explicit git dir stops git from walking up into an enclosing repository
            # when the path is a plain directory; `.git` may also be a file (a worktree).
            self._git_dir = path / ".git" if (path / ".git").exists() else path
        else:
            key = hashlib.sha256(self.display.encode()).hexdigest()[:32]
            self._cache_dir = cache_dir
            self._key = key
            self.mirror = cache_dir / f"{key}.git"
            self._git_dir = self.mirror

    def __repr__(self) -> str:
        return f"Repository({self.display!r})"

    # --- fetching -----------------------------------------------------------------------

    def fetch(self) -> None:
        """Bring the mirror up to date with the remote (a local path needs nothing)."""
        if self.mirror is None:
            # Read-only check, so a wrong path fails here with git's own words.
            self._git("rev-parse", "--git-dir", doing=f"opening {self.display}")
            return
        deadline = time.monotonic() + self.timeout
        self._cache_dir.mkdir(parents=True, exist_ok=True)
        with self._exclusive(self._cache_dir / f"{self._key}.lock", deadline):
            if self.mirror.exists():
                self._remove_stale_ref_locks(self.mirror)
                self._git(
                    "fetch",
                    "--prune",
                    "--no-write-fetch-head",
                    "--quiet",
                    "--",
                    self._url,
                    *_REFSPECS,
                    doing=f"fetching {self.display}",
                    timeout=_remaining(deadline),
                )
            else:
                self._clone(deadline)

    def _clone(self, deadline: float) -> None:
        assert self.mirror is not None
        # We hold the lock, so any temporary clone of this repository belongs to a process
        # that was killed before it could clean up.
        for stale in self._cache_dir.glob(f"{self._key}.tmp-*"):
            shutil.rmtree(stale, ignore_errors=True)
        # Clone beside the mirror and rename it into place: a mirror exists only once it
        # is complete, so a killed clone leaves nothing that later calls would trust.
        partial = Path(tempfile.mkdtemp(prefix=f"{self._key}.tmp-", dir=self._cache_dir))
        try:
            self._git(
                "clone",
                "--bare",
                "--quiet",
                "--",
                self._url,
                str(partial),
                doing=f"cloning {self.display}",
                timeout=_remaining(deadline),
                standalone=True,
            )
            # Keep the credentials off the disk: fetch() passes the URL every time.
            self._git(
                "config",
                "remote.origin.url",
                self.display,
                doing=f"cloning {self.display}",
                git_dir=partial,
            )
            partial.rename(self.mirror)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise

    @staticmethod
    def _remove_stale_ref_locks(mirror: Path) -> None:
        # A fetch killed by its timeout leaves `*.lock` files that make every later fetch
        # fail with "File exists". Only fetches write to the mirror and we hold their lock,
        # so no live git owns these.
        candidates = [mirror / name for name in ("packed-refs.lock", "HEAD.lock", "config.lock")]
        candidates += (mirror / "refs").rglob("*.lock")
        for lock in candidates:
            with suppress(FileNotFoundError):
                lock.unlink()

    @contextmanager
    def _exclusive(self, lock_path: Path, deadline: float) -> Iterator[None]:
        # Two workers fetching into one mirror at once could interleave ref updates;
        # readers need no lock because git only publishes refs to complete objects.
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise GitError(
                            f"timed out after {self.timeout:g} s waiting for another fetch "
                            f"of {self.display} to finish"
                        ) from None
                    time.sleep(0.05)
            yield
        finally:
            os.close(fd)  # releases the lock

    # --- reading ------------------------------------------------------------------------

    def resolve(self, ref: str) -> str:
        """The 40-hex commit a branch, tag (peeled) or commit sha (or prefix) names now."""
        self._require_copy()
        _check_revision(ref)
        code, out, err = self._call(
            ("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"),
            doing=f"resolving {ref!r} in {self.display}",
        )
        if code == 0:
            return out.decode().strip()
        said = _tail(err, self._secrets)
        detail = f": {said}" if said else ""
        raise GitError(
            f"ref {ref!r} not found in {self.display} ({self._available_refs()}){detail}"
        )

    def read(
        self,
        revision: str,
        subpath: str = "",
        suffixes: tuple[str, ...] = (".yaml", ".yml", ".json"),
    ) -> list[SourceFile]:
        """Every file below subpath at revision whose name ends with a suffix, by path."""
        self._require_copy()
        prefix = _normalize_subpath(subpath)
        tree = self._tree(revision, prefix)
        doing = f"reading {prefix or '/'!r} at {revision} from {self.display}"
        listing = self._git("ls-tree", "-r", "-z", tree, doing=doing)

        paths: dict[str, bytes] = {}
        for entry in listing.split(b"\0"):
            if not entry:
                continue
            meta, _, raw_name = entry.partition(b"\t")
            mode, kind, oid = meta.split(b" ")
            # Symlinks hold a path, possibly out of the repository, not a manifest;
            # submodules (kind "commit") have no content in this repository.
            if kind != b"blob" or mode == _SYMLINK_MODE:
                continue
            name = raw_name.decode("utf-8", errors="replace")
            if name.endswith(suffixes):
                paths[f"{prefix}/{name}" if prefix else name] = oid

        contents = self._blobs(set(paths.values()), doing=doing)
        return [SourceFile(path, contents[paths[path]]) for path in sorted(paths)]

    def export(self, revision: str, subpath: str, into: Path) -> Path:
        """Write the tree at revision into `into`; return the directory of subpath in it.

        The whole tree is written, not only subpath: a kustomize overlay usually names its
        base by a relative path such as `../../base`, outside its own directory.
        """
        self._require_copy()
        prefix = _normalize_subpath(subpath)
        self._tree(revision, prefix)
        archive = self._git(
            "archive",
            "--format=tar",
            revision,
            doing=f"exporting {revision} from {self.display}",
        )
        into.mkdir(parents=True, exist_ok=True)
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:") as tar:
            tar.extractall(into, filter=_extraction_filter)
        return into / prefix if prefix else into

    def _tree(self, revision: str, prefix: str) -> str:
        """The tree id of prefix at revision, or a GitError saying which one is missing."""
        _check_revision(revision)
        doing = f"reading {prefix or '/'!r} at {revision} from {self.display}"
        query = f"{revision}^{{commit}}\n{revision}:{prefix}\n".encode()
        answer = self._git("cat-file", "--batch-check", doing=doing, stdin=query)
        commit, path = answer.decode(errors="replace").splitlines()
        if commit.split(" ")[1:2] != ["commit"]:
            raise GitError(f"revision {revision!r} not found in {self.display}")
        fields = path.split(" ")
        if fields[1:2] != ["tree"]:
            what = "is not a directory" if fields[-1].isdigit() else "does not exist"
            raise GitError(f"path {prefix!r} {what} at {revision} in {self.display}")
        return fields[0]

    def _blobs(self, oids: set[bytes], doing: str) -> dict[bytes, bytes]:
        """The content of every blob, through one `git cat-file --batch` process."""
        if not oids:
            return {}
        ordered = sorted(oids)
        out = self._git("cat-file", "--batch", doing=doing, stdin=b"\n".join(ordered) + b"\n")
        contents: dict[bytes, bytes] = {}
        view, position = memoryview(out), 0
        for oid in ordered:
            header_end = out.index(b"\n", position)
            header = out[position:header_end].split(b" ")
            if len(header) != 3 or header[1] != b"blob":
                raise GitError(f"{doing}: object {oid.decode()} is missing")
            start = header_end + 1
            end = start + int(header[2])
            contents[oid] = bytes(view[start:end])
            position = end + 1  # each object ends with a newline
        return contents

    def _available_refs(self) -> str:
        out = self._git(
            "for-each-ref",
            "--sort=-creatordate",
            "--format=%(refname)",
            "refs/heads/",
            "refs/tags/",
            doing=f"listing refs of {self.display}",
        )
        names = out.decode(errors="replace").split()
        branches = [n.removeprefix("refs/heads/") for n in names if n.startswith("refs/heads/")]
        tags = [n.removeprefix("refs/tags/") for n in names if n.startswith("refs/tags/")]
        return f"branches: {_few(branches)}; tags: {_few(tags)}"

    def _require_copy(self) -> None:
        if self.mirror is not None and not self.mirror.exists():
            raise GitError(f"{self.display} has not been fetched yet: call fetch() first")

    # --- running git --------------------------------------------------------------------

    def _git(
        self,
        *args: str,
        doing: str,
        stdin: bytes | None = None,
        timeout: float | None = None,
        git_dir: Path | None = None,
        standalone: bool = False,
    ) -> bytes:
        """Run git in this repository (or git_dir; in none when standalone), check the status."""
        code, out, err = self._call(
            args, doing=doing, stdin=stdin, timeout=timeout, git_dir=git_dir, standalone=standalone
        )
        if code != 0:
            said = _tail(err, self._secrets) or f"exit status {code}"
            raise GitError(f"git {args[0]} failed while {doing}: {said}")
        return out

    def _call(
        self,
        args: tuple[str, ...],
        *,
        doing: str,
        stdin: bytes | None = None,
        timeout: float | None = None,
        git_dir: Path | None = None,
        standalone: bool = False,
    ) -> tuple[int, bytes, bytes]:
        """Run git; return (exit status, stdout, stderr). Raises GitError on a timeout."""
        location = [] if standalone else [f"--git-dir={git_dir or self._git_dir}"]
        argv = ["git", *_CONFIG, *location, *args]
        limit = self.timeout if timeout is None else timeout
        try:
            return _run(argv, stdin, limit)
        except subprocess.TimeoutExpired:
            # Report the configured budget: a fetch gets what its wait for the lock left of it.
            raise GitError(
                f"git {args[0]} timed out after {self.timeout:g} s while {doing}"
            ) from None
        except FileNotFoundError:
            raise GitError(f"git is not installed (needed while {doing})") from None


def _run(argv: list[str], stdin: bytes | None, timeout: float) -> tuple[int, bytes, bytes]:
    environment = {k: v for k, v in os.environ.items() if k not in _REPOSITORY_VARIABLES}
    environment.update(
        LC_ALL="C",
        LANGUAGE="C",
        # Fail at once instead of waiting for a password nobody will type: no terminal
        # prompt, and an empty askpass keeps git from trying core.askPass or SSH_ASKPASS.
        GIT_TERMINAL_PROMPT="0",
        GIT_ASKPASS="",
        SSH_ASKPASS="",
    )
    if "GIT_SSH_COMMAND" not in environment and "GIT_SSH" not in environment:
        # ssh prompts on its own (passphrase, unknown host key) unless told not to.
        environment["GIT_SSH_COMMAND"] = "ssh -o BatchMode=yes"
    return processes.run(argv, environment, timeout, stdin)


def _extraction_filter(member: tarfile.TarInfo, destination: str) -> tarfile.TarInfo | None:
    name = PurePosixPath(member.name)
    if name.is_absolute() or ".." in name.parts:
        # git archive never writes such names; one means the archive is not what we asked for.
        raise GitError(f"refusing to extract {member.name!r}: it would land outside {destination}")
    try:
        return tarfile.data_filter(member, destination)
    except tarfile.FilterError:
        # A symlink out of the tree (to /etc/..., or ../../) must not let kustomize read
        # this machine's files; nothing legitimate in a repository needs one.
        return None


def _is_local_path(url: str) -> bool:
    if "://" in url:
        return False
    # git reads "host:path" as scp-like ssh when the first colon comes before any slash.
    colon, slash = url.find(":"), url.find("/")
    return not (colon > 0 and (slash == -1 or colon < slash))


def _secrets_of(url: str) -> list[str]:
    """The password or token in url, in the forms git might echo back."""
    if "://" not in url:
        return []
    parts = urlsplit(url)
    secrets = [parts.password] if parts.password else []
    if parts.username and not parts.password and parts.scheme.startswith("http"):
        secrets.append(parts.username)
    secrets += [unquote(secret) for secret in secrets]
    return [secret for secret in secrets if len(secret) >= 3]


def _tail(stderr: bytes, secrets: list[str]) -> str:
    lines = [line.strip() for line in stderr.decode(errors="replace").splitlines()]
    text = " / ".join([line for line in lines if line][-_STDERR_LINES:])
    text = redact(text)
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


def _normalize_subpath(subpath: str) -> str:
    parts = [part for part in PurePosixPath(subpath.strip()).parts if part != "/"]
    if any(character in "\n\r\0" for character in subpath):
        raise GitError(f"sub-path {subpath!r} contains a line break or NUL")
    if ".." in parts:
        raise GitError(f"sub-path {subpath!r} must stay inside the repository")
    return "/".join(parts)


def _check_revision(revision: str) -> None:
    # Refs become command arguments and batch input lines: no options, no line breaks.
    if not revision or revision.startswith("-") or any(c.isspace() for c in revision):
        raise GitError(f"{revision!r} is not a valid ref")


def _few(names: list[str]) -> str:
    if not names:
        return "none"
    shown = ", ".join(names[:_REFS_SHOWN])
    more = len(names) - _REFS_SHOWN
    return f"{shown} and {more} more" if more > 0 else shown


def _remaining(deadline: float) -> float:
    return max(deadline - time.monotonic(), 0.1)
