"""The one door to kustomize: find a working binary and build a directory with it.

Either a standalone `kustomize` (`kustomize build DIR`) or a `kubectl` with its embedded
kustomize (`kubectl kustomize DIR`) will do. A candidate is only chosen after it answered
`version` once, so a binary that exists but cannot run here is never picked.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from collections.abc import Iterable, Sequence
from pathlib import Path

from drift import git, processes

KUSTOMIZATION_FILES = frozenset({"kustomization.yaml", "kustomization.yml", "Kustomization"})

_VERIFY_TIMEOUT = 10.0
_STDERR_LINES = 8

_HOW_TO_INSTALL = (
    "install kustomize (https://kubectl.docs.kubernetes.io/installation/kustomize/) or kubectl, "
    "or set DRIFTCONTROL_KUSTOMIZE to the path of either; for development, "
    "`scripts/devcluster build` builds a kubectl 1.20 under ~/.cache/driftcontrol"
)


class KustomizeUnavailable(Exception):
    """No working kustomize or kubectl could be found."""


class KustomizeError(Exception):
    """kustomize could not build a directory."""


def find_command(
    configured: str | None = None,
    search_path: str | None = None,
    extra_candidates: Sequence[Path] = (),
) -> list[str]:
    """The argv prefix that builds a kustomization: `[kustomize, "build"]` or `[kubectl,
    "kustomize"]`, from the configured binary, else kustomize then kubectl on the search
    path (default PATH), else the first working extra candidate."""
    if configured:
        # An explicit choice that does not work is an error, not a reason to use another.
        found = shutil.which(configured, path=search_path)
        if found is None:
            raise KustomizeUnavailable(
                f"the configured kustomize command {configured!r} (DRIFTCONTROL_KUSTOMIZE) "
                "does not exist or is not executable"
            )
        problem = _problem_with(found)
        if problem:
            raise KustomizeUnavailable(
                f"the configured kustomize command {configured!r} (DRIFTCONTROL_KUSTOMIZE) "
                f"does not work: {problem}"
            )
        return _argv_prefix(found)

    candidates = [shutil.which(name, path=search_path) for name in ("kustomize", "kubectl")]
    candidates += [str(path) for path in extra_candidates if os.access(path, os.X_OK)]
    rejected: list[str] = []
    for candidate in candidates:
        if candidate is None:
            continue
        problem = _problem_with(candidate)
        if problem is None:
            return _argv_prefix(candidate)
        rejected.append(f"{candidate} ({problem})")

    tried = f"; unusable: {', '.join(rejected)}" if rejected else ""
    raise KustomizeUnavailable(
        f"neither `kustomize` nor `kubectl` was found on the search path "
        f"{search_path if search_path is not None else os.environ.get('PATH', '')!r}"
        f"{tried}: {_HOW_TO_INSTALL}"
    )


def build(directory: Path, command: list[str], timeout: float = 120.0) -> str:
    """The YAML stream kustomize renders for directory."""
    try:
        code, out, err = _run([*command, str(directory)], timeout)
    except subprocess.TimeoutExpired:
        raise KustomizeError(
            f"kustomize build of {directory} timed out after {timeout:g} s"
        ) from None
    except OSError as error:
        raise KustomizeUnavailable(f"cannot run {command[0]}: {error}") from None
    if code != 0:
        said = _tail(err) or f"exit status {code}"
        raise KustomizeError(f"kustomize build of {directory} failed: {said}")
    return out.decode("utf-8", errors="replace")


def is_kustomization(directory_files: Iterable[str]) -> bool:
    """True when these names (of one directory's entries) include a kustomization file."""
    return any(name in KUSTOMIZATION_FILES for name in directory_files)


def _argv_prefix(binary: str) -> list[str]:
    if _is_kubectl(binary):
        return [binary, "kustomize"]
    return [binary, "build"]


def _is_kubectl(binary: str) -> bool:
    # Names like kubectl, kubectl.1.32 or kubectl-1.20: kubectl's kustomize is a subcommand.
    return Path(binary).name.startswith("kubectl")


def _problem_with(binary: str) -> str | None:
    """Why binary cannot build kustomizations here, or None when it answered `version`."""
    try:
        stat = os.stat(binary)
    except OSError as error:
        return str(error)
    return _verify(binary, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=32)
def _verify(binary: str, mtime_ns: int, size: int) -> str | None:
    # Cached per file version: every scan asks, and a binary does not change between scans.
    # /usr/bin/kubectl may be a cloud SDK dispatcher that needs more than is installed.
    argv = [binary, "version", "--client"] if _is_kubectl(binary) else [binary, "version"]
    try:
        code, _, err = _run(argv, _VERIFY_TIMEOUT)
    except subprocess.TimeoutExpired:
        return f"`{' '.join(argv[1:])}` timed out after {_VERIFY_TIMEOUT:g} s"
    except OSError as error:
        return str(error)
    if code != 0:
        return f"`{' '.join(argv[1:])}` failed: {_tail(err) or f'exit status {code}'}"
    return None


def _run(argv: list[str], timeout: float) -> tuple[int, bytes, bytes]:
    # kustomize clones remote bases with git: it must fail, not wait for a password, and
    # reach only the transports a GitSource may name (no `ext::` running commands here).
    environment = {
        **os.environ,
        "GIT_TERMINAL_PROMPT": "0",
        "LC_ALL": "C",
        "GIT_ALLOW_PROTOCOL": git.allowed_protocols(git.configured_roots()),
    }
    return processes.run(argv, environment, timeout)


def _tail(stderr: bytes) -> str:
    lines = [line.strip() for line in stderr.decode(errors="replace").splitlines()]
    return " / ".join([line for line in lines if line][-_STDERR_LINES:])
