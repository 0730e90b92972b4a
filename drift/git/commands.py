"""Where a repository is, and running git in it: without a shell, under a timeout, unable
to prompt for a password, and blind to any repository but the one we name."""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

from drift import processes
from drift.git import locations
from drift.git.errors import GitError, GitTimeout, redact, secrets_of, tail

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
    # No transport but those _run allows by GIT_ALLOW_PROTOCOL: `ext::` runs a command,
    # `fd::` waits on a file descriptor until the timeout.
    "protocol.allow=never",
)
_CONFIG = tuple(argument for setting in _SETTINGS for argument in ("-c", setting))


class GitCommands:
    """A repository's location (a mirror in the cache, or a local path) and the git
    processes run in it; `Repository` adds fetching and reading on top."""

    def __init__(
        self,
        url: str,
        cache_dir: Path,
        timeout: float = 120.0,
        local_roots: Sequence[str] | None = None,
    ) -> None:
        """local_roots: where local repositories may be; None takes the server's
        configuration (GIT_LOCAL_ROOTS). A location it refuses raises GitError here, with
        the words `drift apply` uses for it, so a source stored before fails at once."""
        self._url = url
        self.display = redact(url)
        self.timeout = timeout
        self._secrets = secrets_of(url)
        self.local_roots = tuple(configured_roots() if local_roots is None else local_roots)
        location = locations.locate(url, self.local_roots)
        self.mirror: Path | None
        if location.local is not None:
            path = Path(location.local)
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

    def _require_copy(self) -> None:
        if self.mirror is not None and not self.mirror.exists():
            raise GitError(f"{self.display} has not been fetched yet: call fetch() first")

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
            said = tail(err, self._secrets) or f"exit status {code}"
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
            return _run(argv, stdin, limit, locations.allowed_protocols(self.local_roots))
        except subprocess.TimeoutExpired:
            # Report the configured budget: a fetch gets what its wait for the lock left of it.
            raise GitTimeout(
                f"git {args[0]} timed out after {self.timeout:g} s while {doing}"
            ) from None
        except FileNotFoundError:
            raise GitError(f"git is not installed (needed while {doing})") from None


def configured_roots() -> tuple[str, ...]:
    """The directories this server reads local repositories from (none outside Django)."""
    from django.conf import settings

    return tuple(getattr(settings, "GIT_LOCAL_ROOTS", ())) if settings.configured else ()


def _run(
    argv: list[str], stdin: bytes | None, timeout: float, protocols: str
) -> tuple[int, bytes, bytes]:
    environment = {k: v for k, v in os.environ.items() if k not in _REPOSITORY_VARIABLES}
    environment.update(
        LC_ALL="C",
        LANGUAGE="C",
        # Only these transports, whatever the URL or a repository's config asks for
        # (submodules and redirects included); overrides every protocol.*.allow.
        GIT_ALLOW_PROTOCOL=protocols,
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
