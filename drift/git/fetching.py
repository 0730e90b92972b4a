"""Keeping a remote repository's bare mirror up to date, one fetch at a time, and leaving a
remote that keeps timing out alone for a while.

A fetch that runs out of time has held its worker (a scan's slot, a watcher's thread) for
the whole timeout; the next one would most likely do the same. So a timeout is written
into the mirror's lock file (`<hash>.lock`, shared by every process on this machine):
further fetches fail at once, saying when the next attempt will be, until a backoff
(1 minute, doubling with every timeout in a row, at most 15) has passed. A fetch that
succeeds clears it; a changed URL is another mirror, with no backoff.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from drift.git.commands import GitCommands
from drift.git.errors import GitError, GitTimeout

# Branches and tags only: a `--mirror` refspec (refs/*) would also drag in every pull
# request head a hosting service publishes. `+` lets moved tags and rewritten branches in.
_REFSPECS = ("+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*")
BACKOFF_FIRST_SECONDS = 60.0
BACKOFF_MAX_SECONDS = 900.0


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
        lock_path = self._cache_dir / f"{self._key}.lock"
        self._refuse_while_backing_off(_backoff_of(lock_path))
        with self._exclusive(lock_path, deadline) as lock:
            # Waiting for the lock may have meant waiting for a fetch that timed out.
            backoff = _backoff_of(lock_path)
            self._refuse_while_backing_off(backoff)
            try:
                self._update(deadline)
            except GitTimeout as error:
                delay = _record_timeout(lock, backoff, str(error))
                raise GitTimeout(f"{error}; not fetched again for {delay:.0f} s") from None
            if backoff:
                os.ftruncate(lock, 0)

    def _update(self, deadline: float) -> None:
        assert self.mirror is not None
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

    def _refuse_while_backing_off(self, backoff: dict[str, Any]) -> None:
        wait = float(backoff.get("until", 0)) - time.time()
        if wait > 0:
            at = time.strftime("%H:%M:%S UTC", time.gmtime(backoff["until"]))
            raise GitError(
                f"{self.display} is not fetched until {at} (in {wait:.0f} s): it timed out "
                f"{backoff.get('timeouts', 1)} time(s) in a row, last: {backoff.get('error')}"
            )

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
    def _exclusive(self, lock_path: Path, deadline: float) -> Iterator[int]:
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
            yield fd
        finally:
            os.close(fd)  # releases the lock


def _remaining(deadline: float) -> float:
    return max(deadline - time.monotonic(), 0.1)


def _backoff_of(lock_path: Path) -> dict[str, Any]:
    """The timeouts recorded in a lock file; empty when there are none (or it is being
    written: a reader that sees half of it fetches, as it would without a backoff)."""
    try:
        recorded = json.loads(lock_path.read_bytes() or b"{}")
    except (OSError, ValueError):
        return {}
    return recorded if isinstance(recorded, dict) else {}


def _record_timeout(lock: int, previous: dict[str, Any], error: str) -> float:
    """Remember one more timeout in a row; how long fetches are now refused."""
    timeouts = int(previous.get("timeouts", 0)) + 1
    delay: float = min(BACKOFF_MAX_SECONDS, BACKOFF_FIRST_SECONDS * 2.0 ** (timeouts - 1))
    record = {"timeouts": timeouts, "until": time.time() + delay, "error": error}
    os.ftruncate(lock, 0)
    os.pwrite(lock, json.dumps(record).encode(), 0)
    return delay
