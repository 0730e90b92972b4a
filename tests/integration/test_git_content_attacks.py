"""Git content an attacker writes cannot exhaust the server (issue 12): a repository holding
a YAML alias bomb, a 50 MB manifest and a symlink out of the repository, next to an
ordinary manifest, is scanned by `manage.py drift scan` in a process under a fixed memory
cap. The scan ends within seconds as partial, naming each file and the limit it passed,
and the ordinary manifest is still compared with the cluster."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from drift.models import DriftPolicy, GitSource
from tests.engine.test_yaml_bounds import billion_laughs
from tests.integration.conftest import GitRepo

pytestmark = [pytest.mark.kube, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
# Address space, not resident memory: a scan of an ordinary repository peaks at about
# 0.6 GB of it (the interpreter, Django, the Kubernetes client, libyaml, and threads'
# reserved stacks); the alias bomb alone needs many GB, the 50 MB file about half of one.
MEMORY_CAP = 1536 << 20
# The scan process: the cap set before anything is loaded, then `manage.py drift ...`;
# the address space it peaked at is written to stderr however it ends.
RUNNER = """
import os, resource, sys
cap = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "driftcontrol.settings")
from django.core.management import execute_from_command_line
try:
    execute_from_command_line(["manage.py", "drift", *sys.argv[2:]])
finally:
    with open("/proc/self/status") as status:
        peak = [line for line in status if line.startswith("VmPeak:")]
    print("peak", int(peak[0].split()[1]) * 1024, file=sys.stderr)
"""

SETTINGS = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  mode: fast
"""


def huge_manifest(size: int) -> str:
    """A well-formed ConfigMap of about `size` bytes: nothing but its size is wrong."""
    line = "  key-{:08d}: " + "x" * 100 + "\n"
    count = size // len(line.format(0))
    head = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: huge\ndata:\n"
    return head + "".join(line.format(n) for n in range(count))


def database_url() -> str:
    """The test database, for the scan process (it sees what this test commits)."""
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    host, port = db.get("HOST") or "127.0.0.1", db.get("PORT") or 5432
    return f"postgres://{db['USER']}{password}@{host}:{port}/{db['NAME']}"


def drift_scan(policy: str, cap: int = MEMORY_CAP) -> tuple[dict[str, Any], float, int]:
    """`manage.py drift scan policy --output json` under the cap: (report, seconds, peak)."""
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", RUNNER, str(cap), "scan", policy, "--output", "json"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": database_url()},
        capture_output=True,
        text=True,
        timeout=300,
    )
    seconds = time.monotonic() - started
    assert done.returncode == 0, done.stderr[-3000:]
    peak = int(done.stderr.rsplit("peak ", 1)[1].split()[0])
    return json.loads(done.stdout), seconds, peak


@pytest.fixture
def repo(tmp_path: Path) -> GitRepo:
    repo = GitRepo(tmp_path / "deploy")
    repo.path.mkdir()
    repo.git("init", "-q", "-b", "main")
    repo.write("k8s/settings.yaml", SETTINGS)
    repo.commit("an ordinary manifest")
    return repo


@pytest.fixture
def policy(repo: GitRepo, scanner_cluster: Any, kube_namespace: str) -> DriftPolicy:
    source = GitSource.objects.create(name="deploy", url=str(repo.path), ref="main", path="k8s")
    return DriftPolicy.objects.create(
        name="deploy",
        source=source,
        cluster_names=["test-a"],
        default_namespace=kube_namespace,
        namespaces={"include": [kube_namespace], "exclude": []},
    )


def test_an_ordinary_repository_scans_well_under_the_cap(
    devcluster: Any, repo: GitRepo, policy: DriftPolicy, kube_namespace: str
) -> None:
    devcluster.kubectl("apply", "-n", kube_namespace, "-f", str(repo.path / "k8s"))

    report, seconds, peak = drift_scan(policy.name)

    assert report["status"]["phase"] == "Complete", report["status"]
    print(f"ordinary scan: {seconds:.1f} s, peak address space {peak / 2**20:.0f} MiB")
    assert peak < MEMORY_CAP * 0.6


def test_a_repository_built_to_exhaust_memory_ends_partial_naming_each_file_and_limit(
    devcluster: Any, repo: GitRepo, policy: DriftPolicy, kube_namespace: str
) -> None:
    devcluster.kubectl("apply", "-n", kube_namespace, "-f", str(repo.path / "k8s"))
    devcluster.kubectl(
        "patch", "-n", kube_namespace, "configmap/settings", "-p", '{"data":{"mode":"slow"}}'
    )
    repo.write("k8s/laughs.yaml", billion_laughs())
    repo.write("k8s/huge.yaml", huge_manifest(50 << 20))
    (repo.path / "k8s/evil.yaml").symlink_to("/etc/passwd")
    repo.commit("an attack")
    huge = (repo.path / "k8s/huge.yaml").stat().st_size

    report, seconds, peak = drift_scan(policy.name)

    print(f"attack scan: {seconds:.1f} s, peak address space {peak / 2**20:.0f} MiB")
    status = report["status"]
    assert status["phase"] == "Partial", status["reason"]
    assert status["reason"] == "3 manifest problem(s): objects in those files are unknown"
    laughs, *others = sorted(status["problems"], key=lambda p: not p.startswith("k8s/laughs"))
    assert sorted(others) == [
        "k8s/evil.yaml: a symlink to '/etc/passwd'; symlinks are not followed, so it was not read",
        f"k8s/huge.yaml: {huge:,} bytes (50.0 MiB), over the limit of 8,388,608 bytes (8.0 MiB) "
        "per file (GIT_MAX_FILE_BYTES); not read",
    ]
    assert laughs.startswith("k8s/laughs.yaml:1: YAML aliases would expand this document by")
    assert laughs.endswith("per source (YAML_MAX_ALIAS_BYTES)")
    # The ordinary manifest was still compared with the cluster.
    [finding] = status["findings"]
    assert (finding["kind"], finding["name"], finding["paths"]) == (
        "ConfigMap",
        "settings",
        ["/data/mode"],
    )
    assert "root:" not in json.dumps(report)
    assert seconds < 30
    assert peak < MEMORY_CAP
