"""Benchmark: the admission webhook's latency under 50 concurrent AdmissionReviews, side by
side with a bare TLS endpoint of the same server (issue: admission webhook).

The real server (alignment.admission.server) runs in a process of its own, twice on one
event loop: once deciding (parse, decide, respond, record), once "bare" (the same TLS,
HTTP and connection handling, answering a canned allowed response without reading the
review). Its World is of a realistic size: 3 lanes (deny with signers and break-glass,
warn, deny), ~2,000 objects Git manages, trusted identities, ~600 image verdicts. A client
process keeps CONCURRENCY requests in flight over kept-alive TLS connections (one each,
as kube-apiserver reuses them), posting `kubectl set image` reviews as kube-apiserver
sends them (an UPDATE with object and oldObject, ~12.5 KB) by the lane's deployer
(allowed), outsiders in the warn lane (warned) and in the deny lane (denied, some for an
unsigned image too). Rounds alternate the two sides; each round opens its connections
and warms them before it measures. Latency is the client's: from the request's first
byte written to the response's last byte read.

Stubbed, and said so in the output: the Worlds (built here, in memory, as
alignment.admission.world.build would from the database) and the recorder (submit
appends to a list, as the real one's enqueue does; its database writes happen in its own
thread, off the request path). No database is needed.

Goal: p99 under 10 ms and within 2x the bare endpoint.

Run: .venv/bin/python bench/admission.py [--requests 5000] [--rounds 3] [--concurrency 50]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.admission_world import CLUSTER, build_world, reviews

_NOW = datetime.now(UTC)


def serve(ports: dict[str, int], credentials: Path, reuse_port: bool) -> None:
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


def _percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"p50": 0.0, "p99": 0.0, "max": 0.0}
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    return {"p50": statistics.median(ordered), "p99": p99, "max": ordered[-1]}


async def _round(
    port: int, context: ssl.SSLContext, requests: list[bytes], options: argparse.Namespace
) -> list[float]:
    """``options.requests`` requests, ``options.concurrency`` connections kept alive, each
    sending its next request as soon as it has its answer, or (with ``options.rate``) on
    a schedule: then latency counts from when the request was due, waits included."""
    latencies: list[float] = []
    sent = 0
    total, concurrency = options.requests, options.concurrency
    interval = concurrency / options.rate if options.rate else 0.0

    async def connection(index: int) -> None:
        nonlocal sent
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=context, server_hostname="127.0.0.1"
        )
        await _exchange(reader, writer, requests[index % len(requests)])  # warm, not counted
        await ready.wait()
        due = time.perf_counter() + interval * index / concurrency
        while sent < total:
            request = requests[sent % len(requests)]
            sent += 1
            if interval:
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
            started = due if interval else time.perf_counter()
            await _exchange(reader, writer, request)
            latencies.append((time.perf_counter() - started) * 1000)
            due += interval
        writer.close()

    ready = asyncio.Event()
    tasks = [asyncio.create_task(connection(i)) for i in range(concurrency)]
    await asyncio.sleep(0.5)  # every connection made and warmed
    ready.set()
    await asyncio.gather(*tasks)
    return latencies


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, data: bytes
) -> None:
    writer.write(data)
    head = await reader.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200 "):
        raise SystemExit(f"unexpected answer: {head[:200]!r}")
    length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
    await reader.readexactly(length)


def _http(body: bytes) -> bytes:
    head = (
        f"POST /validate/{CLUSTER}?timeout=2s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Type: application/json\r\nAccept: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def _cpu_seconds(pids: list[int]) -> tuple[float, float]:
    """CPU time the processes have used so far: in Python and the libraries (user), and
    in the kernel (system: the sockets)."""
    user = system = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        user, system = user + int(fields[11]), system + int(fields[12])
    tick = os.sysconf("SC_CLK_TCK")
    return user / tick, system / tick


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


Servers = list[subprocess.Popen[str]]


def _servers(options: argparse.Namespace, folder: Path) -> tuple[Servers, dict[str, int], str]:
    """The server processes (each serving both endpoints), their ports, and the CA."""
    from alignment.admission import certs

    ca = certs.new_authority(_NOW)
    serving = certs.new_serving(ca, ["127.0.0.1"], _NOW, 1)
    credentials = folder / "serving.json"
    credentials.write_text(
        json.dumps({"certificate": serving.certificate_pem, "key": serving.private_key_pem})
    )
    ports = {"full": _free_port(), "bare": _free_port()}
    command = [
        sys.executable,
        __file__,
        "--serve",
        json.dumps(ports),
        str(credentials),
        "--workers",
        str(options.workers),
    ]
    environment = {
        **os.environ,
        "DEBUG": "1",
        "DJANGO_SETTINGS_MODULE": "driftcontrol.settings",
        "BENCH_ADMISSION_PROFILE": options.profile or "",
    }
    servers = [
        subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=environment
        )
        for _ in range(options.workers)
    ]
    for server in servers:
        assert server.stdout is not None
        if server.stdout.readline().strip() != "ready":
            raise SystemExit("a server process did not start")
    return servers, ports, ca.certificate_pem


def _stopped(servers: Servers) -> list[tuple[str, float]]:
    """Stop the servers; what their recorders were given."""
    submitted: list[tuple[str, float]] = []
    for server in servers:
        assert server.stdin is not None and server.stdout is not None
        server.stdin.close()
        submitted += [tuple(row) for row in json.loads(server.stdout.readline())]
        server.wait(10)
    return submitted


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=5000, help="per round and side")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument(
        "--rate", type=float, default=0, help="requests per second in all (default: no pause)"
    )
    parser.add_argument(
        "--workers", type=int, default=1, help="server processes sharing the port (SO_REUSEPORT)"
    )
    parser.add_argument("--profile", metavar="PATH", help="cProfile the server into PATH")
    parser.add_argument("--serve", nargs=2, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.serve:
        serve(json.loads(options.serve[0]), Path(options.serve[1]), options.workers > 1)
        return
    bodies = reviews()
    requests = [_http(json.dumps(body).encode()) for body, _ in bodies]
    with tempfile.TemporaryDirectory() as folder:
        servers, ports, ca = _servers(options, Path(folder))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cadata=ca)
    load_before = os.getloadavg()
    rounds: dict[str, list[dict[str, float]]] = {"full": [], "bare": []}
    every: dict[str, list[float]] = {"full": [], "bare": []}
    cpu = {"full": [0.0, 0.0], "bare": [0.0, 0.0]}
    pids = [server.pid for server in servers]
    for number in range(options.rounds):
        for side in ("full", "bare") if number % 2 == 0 else ("bare", "full"):
            before = _cpu_seconds(pids)
            latencies = asyncio.run(_round(ports[side], context, requests, options))
            after = _cpu_seconds(pids)
            cpu[side] = [cpu[side][i] + after[i] - before[i] for i in (0, 1)]
            rounds[side].append(_percentiles(latencies))
            every[side] += latencies
    load_after = os.getloadavg()
    submitted = _stopped(servers)
    measured = options.rounds * options.requests
    print(_conditions(options, [len(r) for r in requests], bodies, load_before, load_after))
    per_request = {side: [t / measured * 1e6 for t in used] for side, used in cpu.items()}
    _report(rounds, every, submitted, per_request)


def _conditions(
    options: argparse.Namespace,
    sizes: list[int],
    bodies: list[tuple[dict[str, Any], str]],
    load_before: tuple[float, float, float],
    load_after: tuple[float, float, float],
) -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    mix: dict[str, int] = {}
    for _, outcome in bodies:
        mix[outcome] = mix.get(outcome, 0) + 1
    pace = f"at {options.rate:g} requests/s in all" if options.rate else "each as soon as answered"
    return "\n".join(
        [
            f"machine: {os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}, "
            f"{ssl.OPENSSL_VERSION}; client and server(s) share it",
            f"load average (1, 5, 15 min): before {_three(load_before)}; "
            f"after {_three(load_after)}",
            f"{options.workers} server process(es); {options.rounds} rounds x {options.requests} "
            f"requests per side, {options.concurrency} in flight over kept-alive TLS "
            f"connections (made and warmed before each round), {pace}",
            f"requests: {min(sizes)}-{max(sizes)} bytes, {len(bodies)} distinct reviews "
            f"(mix {mix}), Deployment UPDATEs with object and oldObject",
            "stubbed: Worlds (built in memory: 3 lanes, 1,998 Git-managed objects, 8 trusted "
            "identities, 333 image verdicts) and the recorder (submit appends; no database)",
        ]
    )


def _three(values: tuple[float, float, float]) -> str:
    return ", ".join(f"{value:.2f}" for value in values)


def _report(
    rounds: dict[str, list[dict[str, float]]],
    every: dict[str, list[float]],
    submitted: list[tuple[str, float]],
    cpu_us: dict[str, list[float]],
) -> None:
    outcomes: dict[str, int] = {}
    for outcome, _ in submitted:
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    inside = _percentiles([latency for _, latency in submitted])
    print(f"server decided (warm-up included): {outcomes}")
    print(
        f"in the server, body read to response built: p50 {inside['p50']:.3f} ms, "
        f"p99 {inside['p99']:.3f} ms, max {inside['max']:.3f} ms"
    )
    full, bare = cpu_us["full"], cpu_us["bare"]
    print(
        f"server CPU per request (handshakes and warm-up included): webhook "
        f"{sum(full):.0f} us ({full[0]:.0f} user, {full[1]:.0f} system), bare "
        f"{sum(bare):.0f} us ({bare[0]:.0f} user, {bare[1]:.0f} system)"
    )
    total = {side: _percentiles(values) for side, values in every.items()}
    print(f"{'client-side latency':22}{'webhook':>10}{'bare TLS':>10}{'ratio':>8}")
    for measure in ("p50", "p99", "max"):
        full, bare = total["full"][measure], total["bare"][measure]
        print(f"{measure + ' (ms)':22}{full:10.2f}{bare:10.2f}{full / bare:8.2f}")
    for side, name in (("full", "webhook"), ("bare", "bare TLS")):
        p99s = sorted(result["p99"] for result in rounds[side])
        print(f"{name} p99 per round: best {p99s[0]:.2f} ms, worst {p99s[-1]:.2f} ms")
    p99, ratio = total["full"]["p99"], total["full"]["p99"] / total["bare"]["p99"]
    verdict = "met" if p99 < 10 and ratio <= 2 else "MISSED"
    print(f"goal p99 < 10 ms and within 2x bare: {verdict} (p99 {p99:.2f} ms, {ratio:.2f}x)")


if __name__ == "__main__":
    main()
