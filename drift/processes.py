"""Running git and kustomize: no prompts, and nothing left running after a timeout."""

from __future__ import annotations

import os
import signal
import subprocess
from contextlib import suppress


def run(
    argv: list[str], environment: dict[str, str], timeout: float, stdin: bytes | None = None
) -> tuple[int, bytes, bytes]:
    """Run ``argv``; its exit status, stdout and stderr. Raises subprocess.TimeoutExpired
    (and OSError when it cannot start)."""
    with subprocess.Popen(
        argv,
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=environment,
        # Its own session: no controlling terminal to prompt on, and one process group
        # to kill with its helpers.
        start_new_session=True,
    ) as process:
        try:
            out, err = process.communicate(stdin, timeout=timeout)
        except BaseException:
            # Kill the helpers too (git's remote-https, ssh, index-pack; the git that
            # kustomize runs for remote bases): left running, they would go on writing to
            # a mirror after its lock is released.
            with suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            raise
    return process.returncode, out, err
