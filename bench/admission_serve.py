"""The server process of bench/admission.py: the admission server twice on one event
loop, deciding (full) and bare (the same TLS, HTTP and connections, a canned allowed
answer without reading the review), with the Worlds built in memory and a recorder that
only keeps what it is given. Says "ready" on stdout once listening; at the end of its
stdin, stops and prints what its recorder was given (outcome, latency) as JSON.

Run by bench/admission.py: admission_serve.py PORTS_JSON CREDENTIALS_JSON REUSE_PORT
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.admission_world import CLUSTER, build_world

_NOW = datetime.now(UTC)


def main(ports: dict[str, int], credentials: Path, reuse_port: bool) -> None:
    """A server process: both endpoints; "ready" on stdout, statistics at stdin's end."""
    from alignment.admission import certs
    from alignment.admission.server import Server

    class Worlds:
        ready = True

        def __init__(self) -> None:
            self.worlds = {CLUSTER: build_world()}

        def get(self, cluster: str) -> Any:
            return self.worlds.get(cluster)

    class Recorder:
        def __init__(self) -> None:
            self.submitted: list[tuple[str, float]] = []

        def submit(self, cluster: str, request: Any, decision: Any, latency_ms: float) -> None:
            self.submitted.append((decision.outcome, latency_ms))

    canned = b'{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":'

    class Bare(Server):
        def answer(self, cluster: str, body: bytes) -> bytes:
            return canned + b'{"uid":"","allowed":true}}'

    issued = json.loads(credentials.read_text())
    serving = certs.Issued(issued["certificate"], issued["key"], _NOW, _NOW)
    recorder, worlds = Recorder(), Worlds()

    gc.freeze()  # as `drift admission serve` does once its worlds are built

    async def run() -> None:
        full = Server(worlds, recorder, lambda: serving)
        bare = Bare(worlds, recorder, lambda: serving)
        await full.start("127.0.0.1", ports["full"], reuse_port=reuse_port)
        await bare.start("127.0.0.1", ports["bare"], reuse_port=reuse_port)
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        await full.stop(1)
        await bare.stop(1)

    profile = os.environ.get("BENCH_ADMISSION_PROFILE")
    if profile:
        import cProfile

        cProfile.runctx("asyncio.run(run())", globals(), {"run": run}, profile)
    else:
        asyncio.run(run())
    print(json.dumps(recorder.submitted), flush=True)


if __name__ == "__main__":
    main(json.loads(sys.argv[1]), Path(sys.argv[2]), sys.argv[3] == "1")
