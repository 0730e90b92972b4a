"""Keeping a remote repository's bare mirror up to date, one fetch at a time."""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from drift.git.commands import GitCommands
from drift.git.errors import GitError

# Branches and tags only: a `--mirror` refspec (refs/*) would also drag in every pull
# request head a hosting service publishes. `+` lets moved tags and rewritten branches in.
_REFSPECS = ("+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*")


class Fetching(GitCommands):
    """The fetching part of `Repository`."""

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


def _remaining(deadline: float) -> float:
    return max(deadline - time.monotonic(), 0.1)
