"""`drift admission serve`: the webhook's process. It holds every cluster's World in memory
(refreshed when the database changes), answers the API servers over TLS with the
certificate the authority keeps, records decisions in batches off the hot path, and on
SIGTERM or SIGINT stops accepting, answers what it has begun, and flushes its records.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import io
import logging
import os
import signal
import socket
import sys
from argparse import Namespace
from dataclasses import dataclass, replace
from typing import NoReturn

from django.core.management.color import no_style
from django.db import connection, connections

from alignment.admission import authority, certs
from alignment.admission.recorder import Recorder
from alignment.admission.server import Recorder as Sink
from alignment.admission.server import Server
from alignment.admission.server import Worlds as Source
from alignment.admission.world import Worlds
from driftcontrol.cli.base import Console

HOST, PORT = "127.0.0.1", 9443
# Seconds a stopping server gives the requests it has begun: the API server gives up
# after timeoutSeconds (2 at most) anyway.
GRACE_SECONDS = 5.0
WILDCARDS = ("", "0.0.0.0", "::")
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Listening:
    """Where the webhook listens, the names its certificate carries, and its CA."""

    host: str
    port: int
    hosts: tuple[str, ...]
    ca_pem: str
    reuse_port: bool = False  # other worker processes listen on the same port


def serve(options: Namespace, console: Console) -> int:
    host = getattr(options, "host", None) or HOST
    port = PORT if getattr(options, "port", None) is None else options.port
    workers = getattr(options, "workers", None) or 1
    # A server listening on one address is dialled there: its certificate must name it.
    hosts = (*authority.hosts(), *([host] if host not in WILDCARDS else []))
    # First, and here: a database that cannot be read says so before anything starts.
    first = authority.current(hosts)
    listening = Listening(host, port, hosts, first.ca_pem, reuse_port=workers > 1)
    if workers > 1:
        return _fork(workers, listening, console)
    return _serve(listening, console)


def _serve(listening: Listening, console: Console) -> int:
    worlds = Worlds()
    worlds.start()
    recorder = Recorder(f"{listening.host}:{listening.port}")
    recorder.start()
    try:
        return run(listening, worlds, recorder, console)
    finally:
        recorder.stop()
        worlds.stop()


def run(listening: Listening, worlds: Source, recorder: Sink, console: Console) -> int:
    """Serve until SIGTERM or SIGINT (in the main thread: signal handlers live there)."""

    def certificates() -> authority.Serving:
        # In an executor thread, once a minute: a connection of its own, closed after.
        # The hosts asked again each time: an installation made since (`install --url`)
        # added its host, and a renewal must keep it.
        try:
            return authority.current((*authority.hosts(), *listening.hosts))
        finally:
            connection.close()

    server = Server(worlds, recorder, certificates)
    # Django, the first worlds and everything else made so far live as long as the
    # process: out of the collector's sight, a full collection no longer stops every
    # answer for tens of milliseconds (120,000 objects here, over 100 ms on a busy host).
    gc.freeze()
    return asyncio.run(_run(server, listening, console))


def _fork(workers: int, listening: Listening, console: Console) -> int:
    """Decisions are pure Python: one process answers on one core. Several processes
    listen on the same port (SO_REUSEPORT: the kernel spreads the API servers'
    connections among them), each with its worlds and recorder; this one passes
    SIGTERM and SIGINT on, and waits for them."""
    reserved = None
    if listening.port == 0:
        # Every worker must bind the same port: one is chosen, and held, here.
        reserved = socket.socket(socket.AF_INET6 if ":" in listening.host else socket.AF_INET)
        reserved.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        reserved.bind((listening.host, 0))
        listening = replace(listening, port=reserved.getsockname()[1])
    console.print(f"{workers} worker processes on port {listening.port}")
    children: list[int] = []

    def forward(signum: int, frame: object) -> None:
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)

    previous = {signum: signal.signal(signum, forward) for signum in STOP_SIGNALS}
    # No connection crosses a fork: each worker opens its own.
    connections.close_all()
    try:
        for index in range(workers):
            pid = os.fork()
            if pid == 0:
                # The first worker speaks for all; the others' words would repeat it.
                said = console if index == 0 else Console(io.StringIO(), io.StringIO(), no_style())
                _worker(listening, said)
            children.append(pid)
        codes = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in children]
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if reserved is not None:
            reserved.close()
    return max(codes)


def _worker(listening: Listening, console: Console) -> NoReturn:
    code = 1
    try:
        for signum in STOP_SIGNALS:
            signal.signal(signum, signal.SIG_DFL)  # the parent's forwarding is not ours
        code = _serve(listening, console)
    except BaseException:
        log.exception("admission: a worker process failed")
    finally:
        # Never back into the caller's stack (a test runner, a command): a worker ends
        # here, and os._exit flushes nothing by itself.
        for stream in (console.out, console.err, sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)


async def _run(server: Server, listening: Listening, console: Console) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in STOP_SIGNALS:
        loop.add_signal_handler(signum, stop.set)
    bound_host, bound_port = await server.start(
        listening.host, listening.port, reuse_port=listening.reuse_port
    )
    names = ", ".join(sorted(certs.names(server.certificate_pem)))
    console.success(f"admission webhook listening on https://{bound_host}:{bound_port}")
    console.print(f"serving certificate for {names}")
    console.print(f"CA fingerprint (SHA-256) {certs.fingerprint(listening.ca_pem)}")
    await stop.wait()
    console.print("stopping: answering the requests begun, then flushing the records")
    await server.stop(GRACE_SECONDS)
    for signum in STOP_SIGNALS:
        loop.remove_signal_handler(signum)
    if server.counts:
        said = ", ".join(f"{n} {what}" for what, n in sorted(server.counts.items()))
        console.print(f"allowed without a decision: {said}")
    console.success("admission webhook stopped")
    return 0
