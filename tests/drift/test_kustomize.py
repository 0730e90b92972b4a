"""drift.kustomize: which binary is chosen (fake ones on a controlled search path), and real
builds with the kubectl 1.20 that `scripts/devcluster build` leaves in the cache."""

from __future__ import annotations

import stat
import subprocess
import time
from pathlib import Path

import pytest
from django.conf import settings

from drift import kustomize
from drift.git import Repository
from drift.kustomize import (
    KustomizeError,
    KustomizeUnavailable,
    build,
    find_command,
    is_kustomization,
)

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx:1.25
"""

WORKS = '#!/bin/sh\necho "$0 $*" >> "$(dirname "$0")/calls"\necho v1.0.0\n'
BROKEN = (
    "#!/bin/sh\necho 'ERROR: (gcloud.components) component kubectl is not installed' >&2\nexit 1\n"
)


def fake(directory: Path, name: str, script: str = WORKS) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    binary = directory / name
    binary.write_text(script)
    binary.chmod(binary.stat().st_mode | stat.S_IXUSR)
    return binary


def cached_kubectl() -> Path:
    """The kubectl the product passes as a candidate; tests need it (they never skip)."""
    kubectl = Path(settings.KUSTOMIZE_CANDIDATES[0])
    if not kubectl.exists():
        pytest.fail(
            f"{kubectl} is missing: build it once with `scripts/devcluster build` "
            "(about 5-8 minutes, cached under DRIFTCONTROL_CACHE or ~/.cache/driftcontrol)"
        )
    return kubectl


@pytest.fixture(autouse=True)
def _forget_verified_binaries() -> None:
    kustomize._verify.cache_clear()


# --- choosing the command ------------------------------------------------------------------


def test_it_prefers_kustomize_on_the_search_path(tmp_path: Path) -> None:
    kustomize_bin = fake(tmp_path / "a", "kustomize")
    fake(tmp_path / "a", "kubectl")
    extra = fake(tmp_path / "extra", "kubectl")

    assert find_command(search_path=str(tmp_path / "a"), extra_candidates=[extra]) == [
        str(kustomize_bin),
        "build",
    ]


def test_it_takes_kubectl_when_there_is_no_kustomize(tmp_path: Path) -> None:
    kubectl = fake(tmp_path / "b", "kubectl")
    fake(tmp_path / "a", "unrelated")

    found = find_command(search_path=f"{tmp_path / 'a'}:{tmp_path / 'b'}")

    assert found == [str(kubectl), "kustomize"]


def test_it_falls_back_to_the_extra_candidates_in_order(tmp_path: Path) -> None:
    missing = tmp_path / "not-built" / "kubectl"
    first = fake(tmp_path / "one", "kubectl")
    fake(tmp_path / "two", "kubectl")

    found = find_command(
        search_path=str(tmp_path / "empty"),
        extra_candidates=[missing, first, tmp_path / "two" / "kubectl"],
    )

    assert found == [str(first), "kustomize"]


def test_a_configured_command_wins_over_everything(tmp_path: Path) -> None:
    fake(tmp_path / "path", "kustomize")
    configured = fake(tmp_path / "opt", "kubectl.1.32")

    found = find_command(str(configured), search_path=str(tmp_path / "path"))

    assert found == [str(configured), "kustomize"]


def test_a_configured_command_that_does_not_work_is_an_error(tmp_path: Path) -> None:
    fake(tmp_path / "path", "kustomize")
    broken = fake(tmp_path / "opt", "kustomize", BROKEN)

    with pytest.raises(KustomizeUnavailable, match="DRIFTCONTROL_KUSTOMIZE.*not installed"):
        find_command(str(broken), search_path=str(tmp_path / "path"))
    with pytest.raises(KustomizeUnavailable, match="does not exist"):
        find_command(str(tmp_path / "nowhere"), search_path=str(tmp_path / "path"))


def test_it_passes_over_a_kubectl_that_does_not_run(tmp_path: Path) -> None:
    # Like a cloud SDK's kubectl dispatcher whose real kubectl is not installed.
    fake(tmp_path / "path", "kubectl", BROKEN)
    extra = fake(tmp_path / "cache", "kubectl")

    found = find_command(search_path=str(tmp_path / "path"), extra_candidates=[extra])

    assert found == [str(extra), "kustomize"]


def test_it_checks_each_binary_once(tmp_path: Path) -> None:
    fake(tmp_path / "path", "kubectl")

    for _ in range(3):
        find_command(search_path=str(tmp_path / "path"))

    calls = (tmp_path / "path" / "calls").read_text().splitlines()
    assert calls == [f"{tmp_path / 'path' / 'kubectl'} version --client"]


def test_it_explains_how_to_get_kustomize_when_there_is_none(tmp_path: Path) -> None:
    fake(tmp_path / "path", "kubectl", BROKEN)

    with pytest.raises(KustomizeUnavailable) as error:
        find_command(search_path=str(tmp_path / "path"), extra_candidates=[tmp_path / "no"])

    message = str(error.value)
    assert "neither `kustomize` nor `kubectl`" in message
    assert f"{tmp_path / 'path' / 'kubectl'} (`version --client` failed: ERROR:" in message
    assert "DRIFTCONTROL_KUSTOMIZE" in message
    assert "scripts/devcluster build" in message


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["kustomization.yaml", "deploy.yaml"], True),
        (["kustomization.yml"], True),
        (["Kustomization"], True),
        (["deploy.yaml", "kustomization.json", "Kustomization.yaml"], False),
        (["overlays/prod/kustomization.yaml"], False),
        ([], False),
    ],
)
def test_it_recognises_a_kustomization_directory(names: list[str], expected: bool) -> None:
    assert is_kustomization(names) is expected
    assert is_kustomization(iter(names)) is expected


# --- building ------------------------------------------------------------------------------


def write_kustomization(directory: Path, kustomization: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "deploy.yaml").write_text(DEPLOYMENT)
    (directory / "kustomization.yaml").write_text(kustomization)
    return directory


def test_it_builds_a_kustomization_with_the_cached_kubectl(tmp_path: Path) -> None:
    command = find_command(search_path="", extra_candidates=[cached_kubectl()])
    directory = write_kustomization(
        tmp_path / "app", "namePrefix: dev-\nresources:\n- deploy.yaml\n"
    )

    rendered = build(directory, command)

    assert command == [str(cached_kubectl()), "kustomize"]
    assert "kind: Deployment" in rendered
    assert "  name: dev-web\n" in rendered
    assert "image: nginx:1.25" in rendered


def test_it_builds_an_overlay_exported_from_git(tmp_path: Path) -> None:
    origin = tmp_path / "origin"
    write_kustomization(origin / "k8s/base", "resources:\n- deploy.yaml\n")
    (origin / "k8s/overlays/prod").mkdir(parents=True)
    (origin / "k8s/overlays/prod/kustomization.yaml").write_text(
        # kubectl 1.20 embeds kustomize v2, which takes directories only under `bases:`.
        "namePrefix: prod-\nbases:\n- ../../base\n"
    )
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "--quiet"], cwd=origin, check=True)
    subprocess.run([*git, "add", "--all"], cwd=origin, check=True)
    subprocess.run([*git, "commit", "--quiet", "-m", "app"], cwd=origin, check=True)
    repo = Repository(origin.as_uri(), tmp_path / "cache")
    repo.fetch()

    directory = repo.export(repo.resolve("HEAD"), "k8s/overlays/prod", tmp_path / "export")
    rendered = build(directory, find_command(search_path="", extra_candidates=[cached_kubectl()]))

    assert "  name: prod-web\n" in rendered


def test_a_failed_build_names_the_directory_and_what_kustomize_said(tmp_path: Path) -> None:
    directory = write_kustomization(tmp_path / "app", "resources:\n- missing.yaml\n")
    command = find_command(search_path="", extra_candidates=[cached_kubectl()])

    with pytest.raises(KustomizeError) as error:
        build(directory, command)

    assert str(error.value).startswith(f"kustomize build of {directory} failed: ")
    assert "missing.yaml" in str(error.value)


def test_a_build_that_hangs_times_out(tmp_path: Path) -> None:
    # A child holds the output pipe, as git does for a remote base.
    hanging = fake(tmp_path / "bin", "kustomize", "#!/bin/sh\nsleep 60 &\nexec sleep 60\n")

    started = time.monotonic()
    with pytest.raises(KustomizeError, match=r"kustomize build of .* timed out after 0.5 s"):
        build(tmp_path, [str(hanging), "build"], timeout=0.5)

    assert time.monotonic() - started < 5
