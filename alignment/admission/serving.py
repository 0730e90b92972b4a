"""`drift admission serve`: the webhook's process. It holds every cluster's World in memory
(refreshed when the database changes), answers the API servers over TLS with the
certificate the authority keeps, records decisions in batches off the hot path, and on
SIGTERM or SIGINT stops accepting, answers what it has begun, and flushes its records.
"""

from __future__ import annotations

import asyncio
import gc
import signal
from argparse import Namespace
from collections.abc import Sequence

from django.db import connection

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


def serve(options: Namespace, console: Console) -> int:
    host = getattr(options, "host", None) or HOST
    port = PORT if getattr(options, "port", None) is None else options.port
    # A server listening on one address is dialled there: its certificate must name it.
    hosts = authority.hosts() + ([host] if host not in WILDCARDS else [])
    # First, and here: a database that cannot be read says so before anything starts.
    first = authority.current(hosts)
    worlds = Worlds()
    worlds.start()
    recorder = Recorder(f"{host}:{port}")
    recorder.start()
    try:
        return run(host, port, hosts, worlds, recorder, console, ca_pem=first.ca_pem)
    finally:
        recorder.stop()
        worlds.stop()


def run(
    host: str,
    port: int,
    hosts: Sequence[str],
    worlds: Source,
    recorder: Sink,
    console: Console,
    *,
    ca_pem: str,
) -> int:
    """Serve until SIGTERM or SIGINT (in the main thread: signal handlers live there)."""

    def certificates() -> authority.Serving:
        # In an executor thread, once a minute: a connection of its own, closed after.
        try:
            return authority.current(hosts)
        finally:
            connection.close()

    server = Server(worlds, recorder, certificates)
    # Django, the first worlds and everything else made so far live as long as the
    # process: out of the collector's sight, a full collection no longer stops every
    # answer for tens of milliseconds (120,000 objects here, over 100 ms on a busy host).
    gc.freeze()
    return asyncio.run(_run(server, host, port, console, ca_pem))


async def _run(server: Server, host: str, port: int, console: Console, ca_pem: str) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    bound_host, bound_port = await server.start(host, port)
    names = ", ".join(sorted(certs.names(server.certificate_pem)))
    console.success(f"admission webhook listening on https://{bound_host}:{bound_port}")
    console.print(f"serving certificate for {names}")
    console.print(f"CA fingerprint (SHA-256) {certs.fingerprint(ca_pem)}")
    await stop.wait()
    console.print("stopping: answering the requests begun, then flushing the records")
    await server.stop(GRACE_SECONDS)
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.remove_signal_handler(signum)
    if server.counts:
        said = ", ".join(f"{n} {what}" for what, n in sorted(server.counts.items()))
        console.print(f"allowed without a decision: {said}")
    console.success("admission webhook stopped")
    return 0
