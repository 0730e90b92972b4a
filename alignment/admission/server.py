"""The admission webhook's HTTPS server: AdmissionReview v1 posted to /validate/<cluster>
by kube-apiserver over kept-alive TLS connections, answered from the World in memory.

Standard library only (asyncio streams and ssl), and as strict as a port anyone can reach
needs: a bounded request head, Content-Length bodies of at most 6 MiB (the API server
never sends chunked ones), idle connections closed. Whatever goes wrong while deciding,
the answer is "allowed": the webhook is installed with failurePolicy Ignore so that
DriftControl can never block a cluster, and a crash here must not do it either.

The serving certificate is asked of the authority every `reload_seconds`; a new one is
used for new handshakes (the SNI callback hands them the newest context), while
connections already open keep the one they were made with.

Decisions run on the event loop: a fraction of a millisecond of pure Python each, which a
thread would only hand over under the GIL (measured with bench/admission.py: no faster,
more CPU). More cores are used by more processes (`drift admission serve --workers`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import ssl
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from typing import Protocol

from alignment.admission import review
from alignment.admission.decide import ALLOW, Decision, World, decide
from alignment.admission.wire import Head, HttpError, parse_head, render

log = logging.getLogger(__name__)

MAX_HEAD = 16 * 1024
MAX_BODY = 6 * 1024 * 1024
# Longer than the API server keeps an idle connection (Go's transports: 90 s), so that it
# closes first: a request sent on a connection this side has just closed would fail, and
# fail open.
IDLE_SECONDS = 120.0
# Far more than API servers open (one per request in flight, kept), few enough that
# clients holding connections open cannot take every descriptor.
MAX_CONNECTIONS = 1000
RELOAD_SECONDS = 60.0
VALIDATE = "/validate/"


class Worlds(Protocol):
    """alignment.admission.world.Worlds, as the server reads it."""

    def get(self, cluster: str) -> World | None: ...
    @property
    def ready(self) -> bool: ...


class Recorder(Protocol):
    """alignment.admission.recorder.Recorder, as the server feeds it (never waits on it)."""

    def submit(
        self, cluster: str, request: review.Request, decision: Decision, latency_ms: float
    ) -> None: ...


class Credentials(Protocol):
    """A serving certificate and its key (alignment.admission.authority.Serving)."""

    @property
    def certificate_pem(self) -> str: ...
    @property
    def private_key_pem(self) -> str: ...


def tls_context(credentials: Credentials) -> ssl.SSLContext:
    """A server context holding the certificate (TLS 1.2 at least, as the API server)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    # load_cert_chain reads files only: the key lives there for the blink of the load,
    # in a directory only this user can read.
    with tempfile.TemporaryDirectory(prefix="driftcontrol-admission-") as folder:
        certificate, key = os.path.join(folder, "cert.pem"), os.path.join(folder, "key.pem")
        with open(certificate, "w") as file:
            file.write(credentials.certificate_pem)
        descriptor = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(credentials.private_key_pem)
        context.load_cert_chain(certificate, key)
    return context


class Server:
    """One listening socket, any number of kept-alive connections, one event loop."""

    def __init__(
        self,
        worlds: Worlds,
        recorder: Recorder,
        certificates: Callable[[], Credentials],
        *,
        reload_seconds: float = RELOAD_SECONDS,
        idle_seconds: float = IDLE_SECONDS,
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        self.worlds, self.recorder, self.certificates = worlds, recorder, certificates
        self.reload_seconds, self.idle_seconds = reload_seconds, idle_seconds
        self.max_connections = max_connections
        # What was answered without a decision (fail open, refused), for the logs and tests.
        self.counts: Counter[str] = Counter()
        self.certificate_pem = ""
        self._context: ssl.SSLContext | None = None
        self._server: asyncio.Server | None = None
        self._reloading: asyncio.Task[None] | None = None
        # Every open connection's task, and whether it waits for a request (idle).
        self._open: dict[asyncio.Task[None], bool] = {}
        self._stopping = False

    async def start(self, host: str, port: int, *, reuse_port: bool = False) -> tuple[str, int]:
        """Listen with the authority's current certificate; the address bound. With
        ``reuse_port``, other processes listen on the same port and the kernel spreads
        the connections between them."""
        await self.reload()
        front = self._context
        assert front is not None
        front.sni_callback = self._newest  # called for every ClientHello, with SNI or not
        self._server = await asyncio.start_server(
            self._connection,
            host,
            port,
            ssl=front,
            limit=MAX_HEAD,
            ssl_handshake_timeout=10,
            reuse_port=reuse_port or None,
        )
        self._reloading = asyncio.create_task(self._reload_every())
        bound = self._server.sockets[0].getsockname()
        return bound[0], bound[1]

    async def reload(self) -> bool:
        """Ask the authority for the serving certificate (in a thread: it may write to the
        database); True when it is a new one, used from the next handshake on."""
        loop = asyncio.get_running_loop()
        credentials = await loop.run_in_executor(None, self.certificates)
        if credentials.certificate_pem == self.certificate_pem:
            return False
        self._context = tls_context(credentials)
        self.certificate_pem = credentials.certificate_pem
        return True

    async def stop(self, grace_seconds: float = 10.0) -> None:
        """Stop accepting, close idle connections, let requests being answered finish
        (for at most ``grace_seconds``), then close whatever is left."""
        self._stopping = True
        if self._reloading is not None:
            self._reloading.cancel()
        if self._server is not None:
            self._server.close()
        deadline = time.monotonic() + grace_seconds
        while self._open and time.monotonic() < deadline:
            # Waiting for a request that has not begun: nothing is lost by ending it.
            for task, idle in list(self._open.items()):
                if idle:
                    task.cancel()
            await asyncio.sleep(0.01)
        for task in list(self._open):
            task.cancel()
        await asyncio.gather(*self._open, return_exceptions=True)

    def answer(self, cluster: str, body: bytes) -> bytes:
        """The AdmissionReview response to a posted body (JSON); HttpError 400 when the
        body is no AdmissionReview. Times the decision and hands it to the recorder."""
        started = time.perf_counter()
        try:
            request = review.read(body)
        except review.BadReview as error:
            raise HttpError(400, str(error), close=False) from None
        decision = self._decide(cluster, request)
        payload = review.encode(request.uid, decision)
        latency_ms = (time.perf_counter() - started) * 1000
        try:
            self.recorder.submit(cluster, request, decision, latency_ms)
        except Exception:
            log.exception("admission: the recorder refused a decision on %s", cluster)
        return payload

    def _decide(self, cluster: str, request: review.Request) -> Decision:
        """The decision, or ALLOW when there is none to make: fail open, always."""
        if not self.worlds.ready:
            self.counts["not ready"] += 1
            return ALLOW
        world = self.worlds.get(cluster)
        if world is None:
            self.counts["unknown cluster"] += 1
            return ALLOW
        try:
            return decide(request, world)
        except Exception:
            self.counts["failed open"] += 1
            log.exception("admission: deciding %s on %s failed; allowed", request.uid, cluster)
            return ALLOW

    def _newest(self, connection: ssl.SSLObject, name: str | None, front: ssl.SSLContext) -> None:
        if self._context is not None and self._context is not front:
            connection.context = self._context

    async def _reload_every(self) -> None:
        while True:
            await asyncio.sleep(self.reload_seconds)
            try:
                if await self.reload():
                    log.info("admission: serving a new certificate from the next handshake")
            except Exception:
                # The certificate in use stays; the next round asks again.
                log.exception("admission: the serving certificate could not be renewed")

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        if len(self._open) >= self.max_connections:
            self.counts["connections refused"] += 1
            writer.transport.abort()
            return
        try:
            while not self._stopping and await self._exchange(reader, writer, task):
                pass
        except (ConnectionError, ssl.SSLError, asyncio.IncompleteReadError, TimeoutError):
            pass  # the client went away, or stalled mid-request
        except Exception:
            log.exception("admission: a connection failed")
        finally:
            self._open.pop(task, None)
            writer.close()

    async def _exchange(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, task: asyncio.Task[None]
    ) -> bool:
        """One request and its response; whether the connection stays open for another."""
        self._open[task] = True
        # A connection idle, or a request stalled, for idle_seconds is cut. One timer per
        # request: asyncio.wait_for would make a task of every read.
        deadline = asyncio.get_running_loop().call_later(self.idle_seconds, writer.transport.abort)
        try:
            return await self._answer(reader, writer, task)
        finally:
            deadline.cancel()

    async def _answer(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, task: asyncio.Task[None]
    ) -> bool:
        try:
            raw = await reader.readuntil(b"\r\n\r\n")
        except asyncio.LimitOverrunError:
            raw = b""
        except asyncio.IncompleteReadError:
            return False  # closed, or cut for idling, between requests
        self._open[task] = False
        head, extra = None, None
        try:
            if not raw:
                raise HttpError(431, f"request head longer than {MAX_HEAD} bytes")
            head = parse_head(raw)
            status, content_type, payload = await self._route(head, reader)
            keep = head.keep_alive
        except HttpError as error:
            status, content_type, payload = error.status, "text/plain", error.text.encode()
            keep, extra = not error.close and head is not None and head.keep_alive, error.headers
        keep = keep and not self._stopping
        writer.write(render(status, content_type, payload, keep, extra))
        await writer.drain()
        return keep

    async def _route(self, head: Head, reader: asyncio.StreamReader) -> tuple[int, str, bytes]:
        if head.path == "/healthz":
            head.allow("GET")
            ready = self.worlds.ready
            return (200, "text/plain", b"ok") if ready else (503, "text/plain", b"not ready")
        if not head.path.startswith(VALIDATE) or len(head.path) == len(VALIDATE):
            raise HttpError(404, f"no such path: {head.path} (POST /validate/<cluster>)")
        head.allow("POST")
        length = head.content_length()
        if length > MAX_BODY:
            raise HttpError(413, f"body longer than {MAX_BODY} bytes")
        body = await reader.readexactly(length)
        return 200, "application/json", self.answer(head.path[len(VALIDATE) :], body)
