"""Git sources an attacker (or a careless admin) might declare: refused when declared,
through `drift apply` and the API alike, refused at once at scan time when stored before,
and never able to hold up the watch of another policy."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from drift import declarative, git
from drift.git import locations
from drift.models import DriftPolicy, GitSource, Scan
from drift.services import scanning
from drift.services.watching import Settings, Watcher
from tests.factories import ClusterFactory
from tests.integration.conftest import apply_shop
from tests.integration.test_detection import CONTAINER, wait_for

ATTACKS = [
    ({"url": "https://git.example/r.git", "ref": "--output=/tmp/x"}, "spec.ref"),
    ({"url": "https://git.example/r.git", "path": "../../.."}, "spec.path"),
    ({"url": "/etc"}, "spec.url"),
    ({"url": "file:///etc"}, "spec.url"),
    ({"url": "fd::17"}, "spec.url"),
    ({"url": "ext::sh -c touch% /tmp/x"}, "spec.url"),
]
IDS = ["option-ref", "dotdot-path", "local-etc", "file-etc", "fd", "ext"]


def source_document(spec: dict[str, str], name: str = "evil") -> dict[str, object]:
    return {
        "apiVersion": declarative.API_VERSION,
        "kind": "GitSource",
        "metadata": {"name": name},
        "spec": spec,
    }


@pytest.fixture
def admin_client(admin_user: object) -> APIClient:
    client = APIClient()
    client.force_authenticate(admin_user)
    return client


@pytest.mark.django_db
@pytest.mark.parametrize(("spec", "field"), ATTACKS, ids=IDS)
def test_drift_apply_refuses_the_source_naming_the_field(
    spec: dict[str, str], field: str, tmp_path: Path
) -> None:
    path = tmp_path / "source.yaml"
    path.write_text(yaml.safe_dump(source_document(spec)))

    with pytest.raises(CommandError) as refused:
        call_command("drift", "apply", "-f", str(path))

    assert f"documents[0].{field}: " in str(refused.value)
    assert "nothing applied" in str(refused.value)
    assert not GitSource.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(("spec", "field"), ATTACKS, ids=IDS)
def test_the_api_refuses_the_source_naming_the_field(
    admin_client: APIClient, spec: dict[str, str], field: str
) -> None:
    response = admin_client.post(
        "/api/v1/sources/", {"metadata": {"name": "evil"}, "spec": spec}, format="json"
    )

    assert response.status_code == 400, response.json()
    assert [error["field"] for error in response.json()["errors"]] == [field]
    assert not GitSource.objects.exists()


@pytest.mark.django_db
def test_a_patch_cannot_point_a_source_at_a_remote_helper(admin_client: APIClient) -> None:
    declarative.apply([source_document({"url": "https://git.example/r.git"}, "shop")], "t")

    response = admin_client.patch(
        "/api/v1/sources/shop/", {"spec": {"url": "fd::17"}}, format="json"
    )

    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert (error["field"], error["detail"]) == (
        "spec.url",
        locations.url_problem("fd::17", git.configured_roots()),
    )
    assert GitSource.objects.get().url == "https://git.example/r.git"


@pytest.mark.django_db
def test_local_sources_are_refused_when_the_server_allows_none(
    settings: object, tmp_path: Path
) -> None:
    settings.GIT_LOCAL_ROOTS = ()  # type: ignore[attr-defined]

    with pytest.raises(declarative.InvalidDocuments) as refused:
        declarative.apply([source_document({"url": str(tmp_path)})], "t")

    [problem] = refused.value.problems
    assert problem.path == "documents[0].spec.url"
    assert "reads no local repositories" in problem.message


# --- at scan time ------------------------------------------------------------------------


def stored_policy(url: str, namespace: str, name: str) -> DriftPolicy:
    """A source written straight to the database, as one declared before the rules were."""
    source = GitSource.objects.create(name=name, url=url, ref="main", path="k8s")
    return DriftPolicy.objects.create(
        name=name,
        source=source,
        cluster_names=["test-a"],
        default_namespace=namespace,
        namespaces={"include": [namespace], "exclude": []},
    )


def scan_of(policy: DriftPolicy, cluster: object) -> Scan:
    queued, _ = scanning.request(policy, cluster, enqueue=False)
    scanning.run(queued.pk)
    queued.refresh_from_db()
    return queued


@pytest.mark.kube
@pytest.mark.django_db
def test_a_stored_fd_source_fails_its_scan_at_once_with_the_declaration_s_words(
    scanner_cluster: object, kube_namespace: str
) -> None:
    policy = stored_policy("fd::17", kube_namespace, "helper")
    with pytest.raises(declarative.InvalidDocuments) as refused:
        declarative.apply([source_document({"url": "fd::17"})], "t")

    started = time.monotonic()
    done = scan_of(policy, scanner_cluster)

    assert time.monotonic() - started < 10
    assert done.status == "failed"
    assert done.error == refused.value.problems[0].message
    assert GitSource.objects.get(name="helper").last_error == done.error


@pytest.fixture
def silent_server() -> Iterator[tuple[str, socket.socket]]:
    """An https:// address whose server accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)  # the kernel completes the handshakes; nobody ever reads
    yield f"https://127.0.0.1:{server.getsockname()[1]}/shop.git", server
    server.close()


@pytest.mark.kube
@pytest.mark.django_db
def test_scans_of_a_source_that_timed_out_fail_at_once_until_its_backoff_passes(
    scanner_cluster: object,
    kube_namespace: str,
    silent_server: tuple[str, socket.socket],
    settings: object,
) -> None:
    settings.GIT_TIMEOUT_SECONDS = 2  # type: ignore[attr-defined]
    policy = stored_policy(silent_server[0], kube_namespace, "silent")

    first = scan_of(policy, scanner_cluster)
    started = time.monotonic()
    second = scan_of(policy, scanner_cluster)

    assert first.status == second.status == "failed"
    assert "timed out after 2 s" in first.error and "not fetched again for 60 s" in first.error
    assert time.monotonic() - started < 10
    assert "is not fetched until" in second.error
    assert "timed out 1 time(s) in a row" in second.error


# --- the watcher -------------------------------------------------------------------------


@pytest.mark.kube
@pytest.mark.django_db(transaction=True)
def test_a_source_that_hangs_does_not_delay_another_policy_s_watch(
    devcluster, shop_repo, shop_policy, scanner_cluster, kube_namespace, silent_server, settings
):
    settings.GIT_TIMEOUT_SECONDS = 60
    # Named to come first: the watcher used to set pairs up one after another, in order.
    stored_policy(silent_server[0], kube_namespace, "aaa-hanging")
    apply_shop(devcluster, shop_repo, kube_namespace)
    watcher = Watcher(Settings(reconcile_seconds=0.5, watch_timeout_seconds=30))
    thread = threading.Thread(target=watcher.run, daemon=True)
    started = time.monotonic()
    thread.start()
    try:
        shop = wait_for(lambda: watching(watcher, "shop@test-a"), 20)
        assert shop.error is None
        time.sleep(1.0)  # the first list has given each watch its resourceVersion
        devcluster.kubectl(
            "set", "image", "-n", kube_namespace, "deployment/web", "web=evil.example/web:6.6.6"
        )
        finding = wait_for(lambda: shop_policy.findings.open().filter(name="web").first(), 15)

        assert finding.diff["paths"] == [f"{CONTAINER}/image"]
        assert time.monotonic() - started < 30  # well before the hanging fetch times out
        assert "aaa-hanging@test-a (starting)" in watcher.status()
    finally:
        silent_server[1].close()  # the hanging git fails now rather than in a minute
        watcher.stop()
        thread.join(15)


def watching(watcher: Watcher, name: str) -> object:
    for pair in list(watcher.pairs.values()):
        if pair.name == name and pair.settled.is_set():
            return pair
    return None


@pytest.mark.django_db(transaction=True)
def test_a_pair_that_cannot_start_is_retried_after_a_growing_wait_or_when_it_changes():
    cluster = ClusterFactory(name="east")  # no credentials: its set-up fails at once
    source = GitSource.objects.create(name="shop", url="https://git.example/shop.git")
    DriftPolicy.objects.create(name="shop", source=source, cluster_names=["east"])
    watcher = Watcher(Settings(reconcile_seconds=1.0))

    watcher.reconcile()
    wait_for(lambda: watching(watcher, "shop@east"), 5)
    watcher.reconcile()

    assert watcher.pairs == {}
    [retry] = watcher.retries.values()
    assert retry.failures == 1 and "has no credentials" in retry.error
    [shown] = watcher.status()
    assert shown.startswith("shop@east (retrying in 2 s: cluster east has no credentials")
    watcher.reconcile()
    assert watcher.pairs == {}  # not before its wait is over

    for failures in (2, 3):
        retry.at = 0  # the wait is over
        watcher.reconcile()
        wait_for(lambda: watching(watcher, "shop@east"), 5)
        watcher.reconcile()
        [retry] = watcher.retries.values()
        assert retry.failures == failures
    assert watcher.status()[0].startswith("shop@east (retrying in 8 s:")

    cluster.save()  # any change to the pair is tried at once
    watcher.reconcile()
    assert [pair.name for pair in watcher.pairs.values()] == ["shop@east"]
