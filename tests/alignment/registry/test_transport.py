"""How the registry door reaches a registry: TLS with the registry's CA, basic and token
authentication, retries, Retry-After, timeouts, and a registry that is not there."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from alignment.registry import Access, Registry, RegistryError, Unreachable
from tests.alignment.registry.conftest import PASSWORD, USER, Front, other_ca_pem
from tests.plugins.registry import OciRegistry
from tests.support import oci


@pytest.fixture
def image(oci_registry: OciRegistry, repository: str) -> tuple[str, str]:
    digest = oci.push_image(oci_registry.host, oci_registry.ca_pem, repository, "1", content=b"t")
    return repository, digest


def test_a_stopped_registry_is_unreachable_soon(oci_registry, image):
    repository, _ = image
    door = Registry(oci_registry.access(timeout=2.0), retries=2)
    oci_registry.stop()
    try:
        started = time.monotonic()
        with pytest.raises(Unreachable) as unreachable:
            door.resolve(repository, "1")
        elapsed = time.monotonic() - started
    finally:
        oci_registry.start()
    # Three attempts on a refused connection: the backoff between them, no timeout.
    assert elapsed < 4
    assert f"{oci_registry.host}/{repository} 1" in str(unreachable.value)
    assert "HEAD failed" in str(unreachable.value)


def test_a_registry_back_answers_again(oci_registry, image):
    repository, digest = image
    door = Registry(oci_registry.access(), retries=0)
    oci_registry.stop()
    with pytest.raises(Unreachable):
        door.resolve(repository, "1")
    oci_registry.start()

    assert door.resolve(repository, "1") == digest


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that takes connections (the kernel's backlog) and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield listener.getsockname()[1]


def test_a_registry_that_never_answers_times_out(silent_port):
    door = Registry(Access(host=f"127.0.0.1:{silent_port}", timeout=0.5), retries=1)

    started = time.monotonic()
    with pytest.raises(Unreachable, match="timed out"):
        door.resolve("shop/web", "1")
    # Two attempts of 0.5 s and the backoff between them.
    assert time.monotonic() - started < 2.5


def test_another_ca_is_a_tls_failure_that_says_so(oci_registry, image):
    repository, _ = image
    door = Registry(oci_registry.access(ca_pem=other_ca_pem()), retries=3)

    started = time.monotonic()
    with pytest.raises(Unreachable) as failed:
        door.resolve(repository, "1")

    assert time.monotonic() - started < 1, "a TLS failure is not retried"
    message = str(failed.value)
    assert "TLS failed" in message
    assert "certificate verify failed" in message
    assert oci_registry.host in message


def test_without_its_ca_the_registry_is_not_trusted(oci_registry, image):
    repository, _ = image
    with pytest.raises(Unreachable, match="certificate verify failed"):
        Registry(oci_registry.access(ca_pem="")).resolve(repository, "1")


def test_5xx_is_retried_with_backoff(front: Front, image):
    repository, digest = image
    front.failures = [503, 502]
    door = Registry(Access(host=front.host, insecure=True), retries=3)

    assert door.resolve(repository, "1") == digest
    assert [status for _, _, status in front.seen] == [503, 502, 200]


def test_5xx_that_goes_on_is_unreachable_with_its_status(front: Front, image):
    repository, _ = image
    front.failures = [503] * 3
    door = Registry(Access(host=front.host, insecure=True), retries=2)

    with pytest.raises(Unreachable) as unreachable:
        door.resolve(repository, "1")
    assert unreachable.value.status == 503
    assert f"{front.host}/{repository} 1: HEAD answered 503" in str(unreachable.value)


def test_429_waits_as_long_as_retry_after_says(front: Front, image):
    repository, digest = image
    front.failures, front.retry_after = [429], "1"
    door = Registry(Access(host=front.host, insecure=True), retries=1)

    assert door.resolve(repository, "1") == digest
    (refused, _, _), (answered, _, _) = front.seen
    assert answered - refused >= 1.0


def test_retry_after_is_bounded(front: Front, image, monkeypatch):
    repository, _ = image
    front.failures, front.retry_after = [429, 429], "3600"
    monkeypatch.setattr("alignment.registry.transport.MAX_RETRY_AFTER", 0.2)
    door = Registry(Access(host=front.host, insecure=True), retries=1)

    started = time.monotonic()
    with pytest.raises(Unreachable, match="429"):
        door.resolve(repository, "1")
    assert time.monotonic() - started < 2


# -- basic authentication ----------------------------------------------------------------


def test_basic_credentials_are_sent_when_the_registry_asks(basic_registry: OciRegistry):
    host, ca = basic_registry.host, basic_registry.ca_pem
    digest = oci.push_image(host, ca, "shop/web", "1", content=b"b", credentials=(USER, PASSWORD))
    door = Registry(basic_registry.access(username=USER, password=PASSWORD))

    assert door.resolve("shop/web", "1") == digest
    assert door.blob("shop/web", oci.digest_of(b"b")) == b"b"


def test_without_credentials_a_basic_registry_says_it_wants_them(basic_registry: OciRegistry):
    with pytest.raises(RegistryError, match="asks for credentials") as refused:
        Registry(basic_registry.access()).resolve("shop/web", "1")
    assert refused.value.status == 401
    assert not isinstance(refused.value, Unreachable)


def test_a_wrong_password_is_refused(basic_registry: OciRegistry):
    door = Registry(basic_registry.access(username=USER, password="wrong"))

    with pytest.raises(RegistryError, match="credentials were refused"):
        door.resolve("shop/web", "1")


# -- token authentication ----------------------------------------------------------------


def test_a_token_is_fetched_for_the_repository_and_kept(token_registry):
    registry, service = token_registry
    host, ca = registry.host, registry.ca_pem
    digest = oci.push_image(host, ca, "shop/api", "1", content=b"k", credentials=(USER, PASSWORD))
    service.requests.clear()
    door = Registry(registry.access(username=USER, password=PASSWORD))

    assert door.resolve("shop/api", "1") == digest
    assert door.manifest("shop/api", digest)[2]
    assert door.blob("shop/api", oci.digest_of(b"k")) == b"k"
    (asked,) = service.requests
    assert "scope=repository%3Ashop%2Fapi%3Apull" in asked
    assert "service=driftcontrol-test-registry" in asked


def test_a_token_service_refusing_the_credentials_is_an_error_naming_it(token_registry):
    registry, service = token_registry
    door = Registry(registry.access(username=USER, password="wrong"))

    with pytest.raises(RegistryError, match="the token service .* answered 401") as refused:
        door.resolve("shop/api", "1")
    assert service.url in str(refused.value)
