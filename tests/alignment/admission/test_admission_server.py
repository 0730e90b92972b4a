"""The admission server (alignment.admission.server) over real TLS on localhost: the
server on its own event loop in a thread, clients trusting only the webhook's CA, as
kube-apiserver reaches it: keep-alive connections posting AdmissionReviews."""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
import ssl
import threading
import time
from collections.abc import Coroutine, Iterator
from datetime import UTC, datetime
from typing import Any, TypeVar

import pytest

from alignment.admission import certs
from alignment.admission.decide import Decision, World
from alignment.admission.review import Request
from alignment.admission.server import MAX_BODY, Server
from tests.alignment.admission.test_decide import ARGO, OUTSIDER, set_image, world

T = TypeVar("T")


class Authority:
    """The certificates as alignment.admission.authority would answer them."""

    def __init__(self) -> None:
        self.ca = certs.new_authority(datetime.now(UTC))
        self.down = False  # the database does not answer
        self.renew()

    def renew(self) -> None:
        self.serving = certs.new_serving(self.ca, ["127.0.0.1"], datetime.now(UTC), 90)

    def __call__(self) -> certs.Issued:
        if self.down:
            raise ConnectionError("the database does not answer")
        return self.serving


class Worlds:
    def __init__(self, worlds: dict[str, Any], ready: bool = True) -> None:
        self.worlds, self.ready = worlds, ready

    def get(self, cluster: str) -> World | None:
        return self.worlds.get(cluster)


class Recorder:
    def __init__(self) -> None:
        self.submitted: list[tuple[str, Request, Decision, float]] = []

    def submit(self, cluster: str, request: Request, decision: Decision, latency: float) -> None:
        self.submitted.append((cluster, request, decision, latency))


class Running:
    """A server listening on 127.0.0.1 from an event loop in a thread."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.port = self.call(server.start("127.0.0.1", 0))[1]

    def call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(15)

    def stop(self) -> None:
        self.call(self.server.stop(grace_seconds=2))
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


@pytest.fixture
def authority() -> Authority:
    return Authority()


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def worlds() -> Worlds:
    return Worlds({"prod": world("deny"), "staging": world("warn")})


@pytest.fixture
def running(authority: Authority, worlds: Worlds, recorder: Recorder) -> Iterator[Running]:
    served = Running(Server(worlds, recorder, authority, idle_seconds=5))
    yield served
    served.stop()


def client_context(authority: Authority) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cadata=authority.ca.certificate_pem)
    return context


def connect(running: Running, authority: Authority) -> http.client.HTTPSConnection:
    return http.client.HTTPSConnection(
        "127.0.0.1", running.port, context=client_context(authority), timeout=10
    )


def post(
    connection: http.client.HTTPSConnection, path: str, body: Any
) -> tuple[int, dict[str, str], bytes]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    connection.request("POST", path, data, {"Content-Type": "application/json"})
    response = connection.getresponse()
    return response.status, dict(response.getheaders()), response.read()


def raw(running: Running, authority: Authority, data: bytes) -> bytes:
    """What the server answers to bytes sent as they are, until it closes."""
    with socket.create_connection(("127.0.0.1", running.port), timeout=10) as plain:
        context = client_context(authority)
        with context.wrap_socket(plain, server_hostname="127.0.0.1") as tls:
            tls.sendall(data)
            received = b""
            while chunk := tls.recv(65536):
                received += chunk
    return received


def test_an_outsiders_change_is_refused_and_recorded_with_its_latency(
    running: Running, authority: Authority, recorder: Recorder
) -> None:
    status, headers, body = post(connect(running, authority), "/validate/prod", set_image(OUTSIDER))

    answer = json.loads(body)["response"]
    assert status == 200 and headers["Content-Type"] == "application/json"
    assert answer["allowed"] is False and answer["status"]["code"] == 403
    assert "lane.deployer" in answer["status"]["message"]
    [(cluster, request, decision, latency)] = recorder.submitted
    assert (cluster, request.user, decision.outcome) == ("prod", "alice", "deny")
    assert 0 < latency < 1000


def test_one_kept_alive_connection_carries_many_reviews(
    running: Running, authority: Authority, recorder: Recorder
) -> None:
    connection = connect(running, authority)
    outcomes = []
    for path, user in (("/validate/prod", ARGO), ("/validate/staging", OUTSIDER)) * 3:
        status, headers, body = post(connection, path, set_image(user))
        assert headers["Connection"] == "keep-alive"
        outcomes.append((json.loads(body)["response"]["allowed"], "warnings" in body.decode()))
        socket_used = connection.sock
        assert socket_used is not None

    assert outcomes == [(True, False), (True, True)] * 3
    assert connection.sock is socket_used
    assert [d.outcome for _, _, d, _ in recorder.submitted] == ["allow", "warn"] * 3


def test_an_unknown_cluster_or_a_world_not_built_yet_is_allowed_and_counted(
    running: Running, authority: Authority, worlds: Worlds
) -> None:
    connection = connect(running, authority)
    _, _, unknown = post(connection, "/validate/elsewhere", set_image(OUTSIDER))
    worlds.ready = False
    _, _, not_ready = post(connection, "/validate/prod", set_image(OUTSIDER))

    assert json.loads(unknown)["response"]["allowed"] is True
    assert json.loads(not_ready)["response"]["allowed"] is True
    assert running.server.counts == {"unknown cluster": 1, "not ready": 1}


def test_healthz_says_ok_once_the_worlds_are_built(
    running: Running, authority: Authority, worlds: Worlds
) -> None:
    connection = connect(running, authority)
    worlds.ready = False
    connection.request("GET", "/healthz")
    before = connection.getresponse()
    assert (before.status, before.read()) == (503, b"not ready")
    worlds.ready = True
    connection.request("GET", "/healthz")
    after = connection.getresponse()
    assert (after.status, after.read()) == (200, b"ok")


def test_a_decision_that_fails_allows_the_change_and_the_server_goes_on(
    running: Running, authority: Authority, worlds: Worlds, recorder: Recorder
) -> None:
    worlds.worlds["broken"] = object()  # no World: deciding on it raises
    connection = connect(running, authority)

    _, _, failed = post(connection, "/validate/broken", set_image(OUTSIDER))
    _, _, decided = post(connection, "/validate/prod", set_image(OUTSIDER))

    assert json.loads(failed)["response"] == {
        "uid": set_image(OUTSIDER)["request"]["uid"],
        "allowed": True,
    }
    assert json.loads(decided)["response"]["allowed"] is False
    assert running.server.counts == {"failed open": 1}
    assert [d.outcome for _, _, d, _ in recorder.submitted] == ["allow", "deny"]


def test_a_body_that_is_no_admission_review_gets_400_saying_what_and_where(
    running: Running, authority: Authority, recorder: Recorder
) -> None:
    connection = connect(running, authority)
    wrong_version = set_image(OUTSIDER) | {"apiVersion": "admission.k8s.io/v1beta1"}

    assert post(connection, "/validate/prod", b"{not json")[::2] == (400, b"body: not JSON")
    assert post(connection, "/validate/prod", b"[" * 200_000)[::2] == (400, b"body: not JSON")
    assert post(connection, "/validate/prod", b"\xff\xfe{}")[::2] == (400, b"body: not JSON")
    status, _, text = post(connection, "/validate/prod", wrong_version)
    assert (status, text.decode()) == (
        400,
        "apiVersion: must be admission.k8s.io/v1 (the only version installed)",
    )
    # The connection survives a bad body: the next review is answered on it.
    assert post(connection, "/validate/prod", set_image(ARGO))[0] == 200
    assert len(recorder.submitted) == 1


@pytest.mark.parametrize(
    ("head", "status"),
    [
        (b"POST /validate/prod HTTP/1.1\r\nHost: x\r\n\r\n", b"411 Length Required"),
        (
            b"POST /validate/prod HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            b"411 Length Required",
        ),
        (
            f"POST /validate/prod HTTP/1.1\r\nContent-Length: {MAX_BODY + 1}\r\n\r\n".encode(),
            b"413 ",
        ),
        (b"POST /validate/prod HTTP/1.1\r\nContent-Length: -1\r\n\r\n", b"400 Bad Request"),
        (
            b"POST /validate/prod HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n",
            b"400 Bad Request",
        ),
        (b"POST /validate/prod HTTP/1.1\r\n folded: no\r\n\r\n", b"400 Bad Request"),
        (b"GET /validate/prod HTTP/1.1\r\n\r\n", b"405 Method Not Allowed"),
        (b"GET /metrics HTTP/1.1\r\n\r\n", b"404 Not Found"),
        (b"POST /validate/ HTTP/1.1\r\nContent-Length: 0\r\n\r\n", b"404 Not Found"),
        (b"GET / HTTP/2.0\r\n\r\n", b"505 HTTP Version Not Supported"),
        (b"nonsense\r\n\r\n", b"400 Bad Request"),
        (b"GET /healthz HTTP/1.1\r\nX-Long: " + b"a" * 17000 + b"\r\n\r\n", b"431 "),
    ],
)
def test_requests_out_of_the_ordinary_are_refused_and_the_connection_closed(
    running: Running, authority: Authority, head: bytes, status: bytes
) -> None:
    answer = raw(running, authority, head)

    assert answer.startswith(b"HTTP/1.1 " + status), answer[:200]
    assert b"\r\nConnection: close\r\n" in answer


def test_http_1_0_gets_its_answer_and_the_connection_closed(
    running: Running, authority: Authority
) -> None:
    answer = raw(running, authority, b"GET /healthz HTTP/1.0\r\n\r\n")

    assert answer.startswith(b"HTTP/1.1 200 OK") and answer.endswith(b"\r\n\r\nok")
    assert b"\r\nConnection: close\r\n" in answer


def test_a_method_not_allowed_names_the_one_that_is(running: Running, authority: Authority) -> None:
    answer = raw(running, authority, b"DELETE /validate/prod HTTP/1.1\r\n\r\n")

    assert b"\r\nAllow: POST\r\n" in answer


def test_clients_that_misbehave_do_not_stop_the_server(
    running: Running, authority: Authority
) -> None:
    # Plain HTTP on the TLS port, a handshake abandoned, a body cut short.
    with socket.create_connection(("127.0.0.1", running.port), timeout=5) as plain:
        plain.sendall(b"GET /healthz HTTP/1.1\r\n\r\n")
        plain.recv(100)
    socket.create_connection(("127.0.0.1", running.port), timeout=5).close()
    with socket.create_connection(("127.0.0.1", running.port), timeout=5) as plain:
        tls = client_context(authority).wrap_socket(plain, server_hostname="127.0.0.1")
        tls.sendall(b"POST /validate/prod HTTP/1.1\r\nContent-Length: 5000\r\n\r\n{")
        tls.close()

    assert post(connect(running, authority), "/validate/prod", set_image(ARGO))[0] == 200


def test_connections_past_the_limit_are_closed_and_the_others_served(
    authority: Authority, worlds: Worlds
) -> None:
    served = Running(Server(worlds, Recorder(), authority, max_connections=2))
    try:
        held = [connect(served, authority) for _ in range(2)]
        for connection in held:
            connection.request("GET", "/healthz")
            assert connection.getresponse().read() == b"ok"
        with pytest.raises((ConnectionError, http.client.RemoteDisconnected, ssl.SSLError)):
            post(connect(served, authority), "/validate/prod", set_image(ARGO))

        assert post(held[0], "/validate/prod", set_image(ARGO))[0] == 200
        assert served.server.counts == {"connections refused": 1}
    finally:
        served.stop()


def test_an_idle_connection_is_closed(authority: Authority, worlds: Worlds) -> None:
    served = Running(Server(worlds, Recorder(), authority, idle_seconds=0.2))
    try:
        with socket.create_connection(("127.0.0.1", served.port), timeout=5) as plain:
            context = client_context(authority)
            with context.wrap_socket(plain, server_hostname="127.0.0.1") as tls:
                started = time.monotonic()
                assert tls.recv(100) == b""
                assert 0.1 < time.monotonic() - started < 3
    finally:
        served.stop()


def test_stopping_finishes_the_request_being_answered_and_refuses_new_connections(
    authority: Authority, worlds: Worlds
) -> None:
    served = Running(Server(worlds, Recorder(), authority))
    body = json.dumps(set_image(ARGO)).encode()
    head = f"POST /validate/prod HTTP/1.1\r\nContent-Length: {len(body)}\r\n\r\n".encode()
    idle = client_context(authority).wrap_socket(
        socket.create_connection(("127.0.0.1", served.port)), server_hostname="127.0.0.1"
    )
    with socket.create_connection(("127.0.0.1", served.port), timeout=5) as plain:
        tls = client_context(authority).wrap_socket(plain, server_hostname="127.0.0.1")
        tls.sendall(head + body[:100])  # the request has begun when the stop comes
        time.sleep(0.2)
        stopping = threading.Thread(target=served.stop)
        stopping.start()
        time.sleep(0.2)
        tls.sendall(body[100:])
        answer = b""
        while chunk := tls.recv(65536):
            answer += chunk
        stopping.join(5)

    assert answer.startswith(b"HTTP/1.1 200 OK") and b"\r\nConnection: close\r\n" in answer
    assert b'"allowed": true' in answer
    assert idle.recv(100) == b""  # the idle connection was closed
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", served.port), timeout=2)


def test_a_renewed_certificate_serves_new_connections_and_traffic_loses_no_request(
    authority: Authority, worlds: Worlds, recorder: Recorder
) -> None:
    served = Running(Server(worlds, recorder, authority, reload_seconds=0.05))
    done, failures = threading.Event(), []
    seen: dict[str, set[bytes]] = {"kept": set(), "new": set()}
    answered = {"kept": 0, "new": 0}

    def traffic(kind: str) -> None:
        connection = connect(served, authority)
        try:
            while not done.is_set():
                if kind == "new":
                    connection.close()
                    connection = connect(served, authority)
                status, _, body = post(connection, "/validate/prod", set_image(OUTSIDER))
                assert status == 200 and b'"allowed": false' in body
                assert connection.sock is not None
                seen[kind].add(connection.sock.getpeercert(binary_form=True) or b"")
                answered[kind] += 1
        except Exception as error:  # reported by the assertion below
            failures.append(error)

    threads = [threading.Thread(target=traffic, args=(kind,)) for kind in ("kept", "new") * 2]
    for thread in threads:
        thread.start()
    time.sleep(0.4)
    first = ssl.PEM_cert_to_DER_cert(authority.serving.certificate_pem)
    authority.renew()
    time.sleep(0.6)
    done.set()
    for thread in threads:
        thread.join(10)
    renewed = ssl.PEM_cert_to_DER_cert(authority.serving.certificate_pem)
    fresh = connect(served, authority)
    fresh.connect()
    assert fresh.sock is not None
    latest = fresh.sock.getpeercert(binary_form=True)
    served.stop()

    assert failures == []
    assert answered["kept"] > 10 and answered["new"] > 10
    assert seen == {"kept": {first}, "new": {first, renewed}}
    assert latest == renewed
    assert served.server.certificate_pem == authority.serving.certificate_pem


def test_a_certificate_that_cannot_be_renewed_leaves_the_one_in_use(
    authority: Authority, worlds: Worlds
) -> None:
    served = Running(Server(worlds, Recorder(), authority, reload_seconds=0.05))
    in_use = served.server.certificate_pem
    authority.down = True
    time.sleep(0.3)  # several reloads fail meanwhile

    try:
        status, _, _ = post(connect(served, authority), "/validate/prod", set_image(ARGO))
        assert status == 200
        assert served.server.certificate_pem == in_use
        authority.down = False
        authority.renew()
        served.call(served.server.reload())  # unless the reloads every 0.05 s got there first
        assert served.server.certificate_pem == authority.serving.certificate_pem != in_use
    finally:
        served.stop()
