"""Issue 12's kubeconfig attacks, end to end: through the API (POST and PATCH), `drift
apply` and a scan of a kubeconfig stored before the server refused such things, no command
runs and no server file is read; an allowlisted credential plugin authenticates real scans
against the local API server, with none of the server's secrets in its environment."""

from __future__ import annotations

import io
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.core.management import call_command
from django.core.management.base import CommandError
from rest_framework.test import APIClient

from drift.models import Cluster, DriftPolicy, GitSource, Scan
from drift.services import clusters, scanning
from tests.api.conftest import token_for
from tests.integration.conftest import GitRepo, scan

pytestmark = pytest.mark.django_db

SECRET = "s3rver-file-c0ntent-never-shown"
SAFE = """\
apiVersion: v1
kind: Config
clusters:
- name: prod
  cluster:
    server: https://prod.example:6443
    insecure-skip-tls-verify: true
users:
- name: admin
  user:
    token: t0ken
contexts:
- name: prod
  context: {cluster: prod, user: admin}
current-context: prod
"""


def with_user(user: dict[str, Any], base: str = SAFE) -> str:
    config = yaml.safe_load(base)
    for entry in config["users"]:
        entry["user"] = user
    return yaml.safe_dump(config, sort_keys=False)


def shell_exec(marker: Path) -> dict[str, Any]:
    return {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1beta1",
            "command": "/bin/sh",
            "args": ["-c", f"touch {marker}; exit 1"],
        }
    }


def shell_auth_provider(marker: Path) -> dict[str, Any]:
    return {"auth-provider": {"name": "gcp", "config": {"cmd-path": f"/usr/bin/touch {marker}"}}}


@pytest.fixture
def admin_api(admin_user: Any) -> APIClient:
    """The API as automation holding an admin token (the attacker of issue 12)."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(admin_user)}")
    return client


@pytest.fixture
def server_file(tmp_path: Path) -> Path:
    path = tmp_path / "server-file"
    path.write_text(SECRET)
    return path


@pytest.mark.parametrize(
    ("attack", "field"), [(shell_exec, "exec"), (shell_auth_provider, "auth-provider")]
)
def test_the_api_refuses_a_kubeconfig_that_runs_a_command(
    admin_api: APIClient,
    tmp_path: Path,
    attack,
    field: str,
) -> None:
    marker = tmp_path / "MARKER"
    body = {"metadata": {"name": "east"}, "spec": {"kubeconfig": with_user(attack(marker))}}

    response = admin_api.post("/api/v1/clusters/", body, format="json")

    assert response.status_code == 400, response.json()
    error = response.json()["errors"][0]
    assert error["field"] == "spec.kubeconfig"
    assert error["detail"].startswith(f'users[0] ("admin").user.{field}:')
    assert not Cluster.objects.exists()
    assert not marker.exists()


def test_a_patch_cannot_slip_a_command_into_a_stored_kubeconfig(
    admin_api: APIClient,
    tmp_path: Path,
) -> None:
    client = admin_api
    created = client.post(
        "/api/v1/clusters/",
        {"metadata": {"name": "east"}, "spec": {"kubeconfig": SAFE}},
        format="json",
    )
    assert created.status_code == 201, created.json()
    marker = tmp_path / "MARKER"

    patched = client.patch(
        "/api/v1/clusters/east/",
        {"spec": {"kubeconfig": with_user(shell_exec(marker))}},
        format="json",
    )

    assert patched.status_code == 400
    assert patched.json()["errors"][0]["field"] == "spec.kubeconfig"
    assert Cluster.objects.get().read_credentials() == SAFE
    assert not marker.exists()


@pytest.mark.parametrize("key", ["tokenFile", "client-certificate", "client-key"])
def test_the_api_refuses_a_kubeconfig_that_reads_a_server_file(
    admin_api: APIClient,
    server_file: Path,
    key: str,
) -> None:
    body = {
        "metadata": {"name": "east"},
        "spec": {"kubeconfig": with_user({"token": "t0ken", key: str(server_file)})},
    }

    response = admin_api.post("/api/v1/clusters/", body, format="json")

    assert response.status_code == 400
    assert response.json()["errors"][0]["detail"].startswith(f'users[0] ("admin").user.{key}:')
    assert SECRET not in response.content.decode()


def test_drift_apply_refuses_a_kubeconfig_that_runs_a_command(tmp_path: Path) -> None:
    marker = tmp_path / "MARKER"
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(with_user(shell_exec(marker)))
    document = tmp_path / "cluster.yaml"
    document.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "driftcontrol.io/v1alpha1",
                "kind": "Cluster",
                "metadata": {"name": "east"},
                "spec": {"kubeconfig": "kubeconfig"},
            }
        )
    )

    with pytest.raises(CommandError) as refused:
        call_command("drift", "apply", "-f", str(document), stdout=io.StringIO())

    assert (
        '  documents[0].spec.kubeconfig: users[0] ("admin").user.exec: credential plugins '
        "run commands on this server"
    ) in str(refused.value)
    assert not Cluster.objects.exists()
    assert not marker.exists()


def stored_cluster(kubeconfig: str, name: str = "east") -> Cluster:
    """A cluster whose kubeconfig was stored directly (as before the server refused them)."""
    cluster = Cluster(name=name)
    cluster.set_credentials(kubeconfig)
    cluster.save()
    return cluster


def failed_scan(cluster: Cluster) -> Scan:
    source = GitSource.objects.create(name="deploy", url="https://git.example/deploy.git")
    policy = DriftPolicy.objects.create(name="shop", source=source, cluster_names=[cluster.name])
    queued, _ = scanning.request(policy, cluster, enqueue=False)
    ran = scanning.run(queued.pk)
    assert ran is not None
    ran.refresh_from_db()
    assert ran.status == "failed"
    return ran


def test_a_stored_kubeconfig_that_runs_a_command_is_refused_at_scan_time(tmp_path: Path) -> None:
    marker = tmp_path / "MARKER"
    cluster = stored_cluster(with_user(shell_exec(marker)))

    ran = failed_scan(cluster)

    assert ran.error.startswith('users[0] ("admin").user.exec: credential plugins run commands')
    cluster.refresh_from_db()
    assert cluster.last_error == ran.error
    assert not marker.exists()


def test_changing_a_cluster_whose_stored_kubeconfig_runs_a_command_names_it(
    admin_api: APIClient, tmp_path: Path
) -> None:
    marker = tmp_path / "MARKER"
    stored_cluster(with_user(shell_exec(marker)))

    patched = admin_api.patch("/api/v1/clusters/east/", {"spec": {"enabled": False}}, format="json")

    assert patched.status_code == 400
    error = patched.json()["errors"][0]
    assert error["field"] == "spec.kubeconfig"
    assert error["detail"].startswith('the stored kubeconfig: users[0] ("admin").user.exec:')
    assert Cluster.objects.get().enabled is True
    assert not marker.exists()


def test_a_stored_token_file_is_never_read_nor_shown(
    settings: Any, tmp_path: Path, server_file: Path
) -> None:
    (tmp_path / "root").mkdir()
    settings.KUBECONFIG_FILE_ROOT = str(tmp_path / "root")
    cluster = stored_cluster(with_user({"tokenFile": "../server-file"}))

    ran = failed_scan(cluster)

    assert ran.error.startswith('users[0] ("admin").user.tokenFile: the file is not a readable')
    assert SECRET not in ran.error
    cluster.refresh_from_db()
    assert SECRET not in cluster.last_error


# --- Allowlisted credential plugins, against the local API server --------------------------


def plugin_script(directory: Path, token_lines: str, *, sleep: int = 0) -> Path:
    """A credential plugin that records its environment and prints an ExecCredential (v1)
    whose token the shell line ``token_lines`` sets in $TOKEN."""
    path = directory / "credential-plugin"
    answer = '{"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential", '
    path.write_text(
        "#!/bin/sh\n"
        f"sleep {sleep}\n"
        f"echo run >> {directory / 'runs'}\n"
        f"{sys.executable} -c 'import json, os; print(json.dumps(dict(os.environ)))'"
        f" > {directory / 'environment.json'}\n"
        f"{token_lines}\n"
        f'printf \'%s\' \'{answer}"status": {{"token": "\'"$TOKEN"\'"}}}}\'\n'
    )
    path.chmod(0o755)
    return path


def plugin_kubeconfig(devcluster, plugin: Path) -> str:
    base = Path(devcluster.kubeconfig("driftcontrol-scanner")).read_text()
    user = {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1",
            "command": str(plugin),
            "interactiveMode": "Never",
            "provideClusterInfo": True,
            "env": [{"name": "AWS_PROFILE", "value": "fleet"}],
        }
    }
    return with_user(user, base)


def scanner_token(devcluster) -> str:
    config = yaml.safe_load(Path(devcluster.kubeconfig("driftcontrol-scanner")).read_text())
    return str(config["users"][0]["user"]["token"])


@pytest.mark.kube
def test_an_allowlisted_plugin_authenticates_a_real_scan_without_the_servers_secrets(
    admin_api: APIClient,
    settings,
    devcluster,
    shop_repo: GitRepo,
    tmp_path: Path,
) -> None:
    plugin = plugin_script(tmp_path, f"TOKEN={scanner_token(devcluster)}")
    settings.KUBECONFIG_EXEC_ALLOWLIST = [str(plugin)]
    body = {
        "metadata": {"name": "test-a"},
        "spec": {"kubeconfig": plugin_kubeconfig(devcluster, plugin)},
    }

    created = admin_api.post("/api/v1/clusters/", body, format="json")

    assert created.status_code == 201, created.json()
    assert created.json()["api_server_url"] == devcluster.server
    assert not (tmp_path / "runs").exists()  # declaring a cluster runs nothing
    source = GitSource.objects.create(name="shop", url=str(shop_repo.path), ref="main", path="k8s")
    policy = DriftPolicy.objects.create(name="shop", source=source, cluster_names=["test-a"])
    cluster = Cluster.objects.get(name="test-a")

    scan(policy, cluster)

    cluster.refresh_from_db()
    assert cluster.last_contact_at is not None and cluster.last_error == ""
    environment = json.loads((tmp_path / "environment.json").read_text())
    for secret in ("SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "DATABASE_URL", "CELERY_BROKER_URL"):
        assert secret in os.environ and secret not in environment
    assert environment["AWS_PROFILE"] == "fleet"
    info = json.loads(environment["KUBERNETES_EXEC_INFO"])
    assert info["apiVersion"] == "client.authentication.k8s.io/v1"
    assert info["spec"]["interactive"] is False
    assert info["spec"]["cluster"]["server"] == devcluster.server


@pytest.mark.kube
def test_a_plugin_token_the_server_refuses_is_renewed_once(
    settings, devcluster, tmp_path: Path
) -> None:
    # The first run's token is stale (the API server answers 401); the second is good.
    plugin = plugin_script(
        tmp_path,
        f'if [ "$(wc -l < {tmp_path / "runs"})" -eq 1 ]; then TOKEN=stale; '
        f"else TOKEN={scanner_token(devcluster)}; fi",
    )
    settings.KUBECONFIG_EXEC_ALLOWLIST = [str(plugin)]
    cluster = stored_cluster(plugin_kubeconfig(devcluster, plugin), name="test-a")

    assert clusters.connect(cluster).version() == "v1.20.2"
    assert (tmp_path / "runs").read_text().count("run") == 2


def test_a_plugin_that_hangs_fails_the_scan_within_its_timeout(settings, tmp_path: Path) -> None:
    plugin = plugin_script(tmp_path, "TOKEN=late", sleep=30)
    settings.KUBECONFIG_EXEC_ALLOWLIST = [str(plugin)]
    settings.KUBECONFIG_EXEC_TIMEOUT_SECONDS = 1
    user = {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": str(plugin)}}
    cluster = stored_cluster(with_user(user))
    started = time.monotonic()

    ran = failed_scan(cluster)

    assert time.monotonic() - started < 10
    assert ran.error == (
        f'users[0] ("admin").user.exec: {plugin} gave no credential within 1 seconds '
        "(KUBECONFIG_EXEC_TIMEOUT_SECONDS)"
    )
