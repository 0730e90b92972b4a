"""Benchmark: the admission webhook's latency under 50 concurrent AdmissionReviews, side by
side with a bare TLS endpoint of the same server (issue: admission webhook).

The real server (alignment.admission.server) runs in a process of its own
(bench/admission_serve.py; with --workers N, N of them sharing the port), twice on one
event loop: once deciding (parse, decide, respond, record), once "bare" (the same TLS,
HTTP and connection handling, answering a canned allowed response without reading the
review). Its World is of a realistic size: 3 lanes (deny with signers and break-glass,
warn, deny), 1,998 objects Git manages, 8 trusted identities, 333 image verdicts. This
process keeps 50 kept-alive TLS connections (kube-apiserver reuses its own), posting
`kubectl set image` reviews as kube-apiserver sends them (an UPDATE with object and
oldObject, ~8.7 KB of compact JSON) by a lane's deployer (allowed), an outsider in the
warn lane (warned) and in a deny lane (denied, some for an unsigned image too).

Two phases, rounds alternating the sides, connections made and warmed before each round:
saturated (each connection sends its next review as soon as the last is answered: 50 in
flight all the time, so latency is 50 requests' worth of the server's time), and paced
(--paced requests a second in all: latency counts from when a request was due).
Latency is the client's, from the request's first byte written to the answer's last
byte read. Also printed: CPU per request of the server(s) and of this client.

Stubbed, and said so in the output: the Worlds (built in memory, as
alignment.admission.world.build would from the database) and the recorder (submit
appends to a list, as the real one's enqueue does; its writes happen in its own thread,
off the request path). No database is needed.

Goal: p99 under 10 ms and within 2x the bare endpoint.

Run: .venv/bin/python bench/admission.py [--requests 5000] [--rounds 3] [--paced 200]
     [--workers 1] [--profile PATH]
"""

from __future__ import annotations

import argparse
import asyncio
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
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.admission_world import CLUSTER, reviews

_NOW = datetime.now(UTC)


def _percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {"p50": 0.0, "p99": 0.0, "max": 0.0}
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    return {"p50": statistics.median(ordered), "p99": p99, "max": ordered[-1]}


async def _round(
    port: int, context: ssl.SSLContext, requests: list[bytes], phase: Phase
) -> list[float]:
    """``phase.total`` requests over ``phase.concurrency`` connections kept alive, each
    sending its next request as soon as it has its answer or, at a ``phase.rate``, on a
    schedule: then latency counts from when the request was due, waits included (a
    server that falls behind is not let off by the client waiting for it)."""
    latencies: list[float] = []
    sent = 0
    total, concurrency = phase.total, phase.concurrency
    interval = concurrency / phase.rate if phase.rate else 0.0

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
    serve = Path(__file__).with_name("admission_serve.py")
    reuse_port = "1" if options.workers > 1 else "0"
    command = [sys.executable, str(serve), json.dumps(ports), str(credentials), reuse_port]
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


@dataclass
class Phase:
    """One way of sending, and what it measured on each side (full: the webhook)."""

    title: str
    total: int  # requests per round and side
    concurrency: int
    rate: float  # requests per second in all; 0: each as soon as the last is answered
    every: dict[str, list[float]] = field(default_factory=lambda: {"full": [], "bare": []})
    rounds: dict[str, list[dict[str, float]]] = field(
        default_factory=lambda: {"full": [], "bare": []}
    )
    server_cpu: dict[str, list[float]] = field(
        default_factory=lambda: {"full": [0.0, 0.0], "bare": [0.0, 0.0]}
    )
    client_cpu: dict[str, float] = field(default_factory=lambda: {"full": 0.0, "bare": 0.0})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=5000, help="per round and side")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument(
        "--paced", type=float, default=200, help="then at this many requests/s (0: not)"
    )
    parser.add_argument(
        "--workers", type=int, default=1, help="server processes sharing the port (SO_REUSEPORT)"
    )
    parser.add_argument("--profile", metavar="PATH", help="cProfile the server into PATH")
    options = parser.parse_args()
    bodies = reviews()
    requests = [_http(json.dumps(body).encode()) for body, _ in bodies]
    with tempfile.TemporaryDirectory() as folder:
        servers, ports, ca = _servers(options, Path(folder))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cadata=ca)
    phases = [
        Phase(
            "saturated: the next request as soon as the last is answered",
            options.requests,
            options.concurrency,
            0,
        ),
    ]
    if options.paced:
        # Ten seconds of requests per round and side at the rate.
        total = min(options.requests, int(options.paced * 10))
        phases.append(
            Phase(
                f"paced: {options.paced:g} requests/s in all",
                total,
                options.concurrency,
                options.paced,
            )
        )
    load_before = os.getloadavg()
    pids = [server.pid for server in servers]
    for phase in phases:
        for number in range(options.rounds):
            for side in ("full", "bare") if number % 2 == 0 else ("bare", "full"):
                _measure(phase, side, pids, ports[side], context, requests)
    load_after = os.getloadavg()
    submitted = _stopped(servers)
    print(_conditions(options, [len(r) for r in requests], bodies, load_before, load_after))
    _inside(submitted)
    for phase in phases:
        _report(phase, options.rounds)


def _measure(
    phase: Phase,
    side: str,
    pids: list[int],
    port: int,
    context: ssl.SSLContext,
    requests: list[bytes],
) -> None:
    before, client_before = _cpu_seconds(pids), sum(os.times()[:2])
    latencies = asyncio.run(_round(port, context, requests, phase))
    after = _cpu_seconds(pids)
    used = phase.server_cpu[side]
    phase.server_cpu[side] = [used[i] + after[i] - before[i] for i in (0, 1)]
    phase.client_cpu[side] += sum(os.times()[:2]) - client_before
    phase.rounds[side].append(_percentiles(latencies))
    phase.every[side] += latencies


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
    return "\n".join(
        [
            f"machine: {os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}, "
            f"{ssl.OPENSSL_VERSION}; client and server(s) share it",
            f"load average (1, 5, 15 min): before {_three(load_before)}; "
            f"after {_three(load_after)}",
            f"{options.workers} server process(es) serving both sides; {options.rounds} rounds "
            f"per phase, sides alternating; {options.concurrency} kept-alive TLS connections "
            "per round (made and warmed before it)",
            f"requests: {min(sizes)}-{max(sizes)} bytes, {len(bodies)} distinct reviews "
            f"(mix {mix}), Deployment UPDATEs with object and oldObject",
            "stubbed: Worlds (built in memory: 3 lanes, 1,998 Git-managed objects, 8 trusted "
            "identities, 333 image verdicts) and the recorder (submit appends; no database)",
        ]
    )


def _three(values: tuple[float, float, float]) -> str:
    return ", ".join(f"{value:.2f}" for value in values)


def _inside(submitted: list[tuple[str, float]]) -> None:
    outcomes: dict[str, int] = {}
    for outcome, _ in submitted:
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    inside = _percentiles([latency for _, latency in submitted])
    print(f"server decided (warm-up included): {outcomes}")
    print(
        f"in the server, body read to response built: p50 {inside['p50']:.3f} ms, "
        f"p99 {inside['p99']:.3f} ms, max {inside['max']:.3f} ms"
    )


def _report(phase: Phase, rounds: int) -> None:
    measured = rounds * phase.total
    print(f"\n{phase.title}, {phase.concurrency} connections, {rounds} x {phase.total} per side")
    full, bare = ([t / measured * 1e6 for t in phase.server_cpu[side]] for side in ("full", "bare"))
    print(
        f"server CPU per request: webhook {sum(full):.0f} us ({full[0]:.0f} user, "
        f"{full[1]:.0f} system), bare {sum(bare):.0f} us ({bare[0]:.0f} user, "
        f"{bare[1]:.0f} system); client CPU: webhook "
        f"{phase.client_cpu['full'] / measured * 1e6:.0f} us, bare "
        f"{phase.client_cpu['bare'] / measured * 1e6:.0f} us"
    )
    total = {side: _percentiles(values) for side, values in phase.every.items()}
    print(f"{'client-side latency':22}{'webhook':>10}{'bare TLS':>10}{'ratio':>8}")
    for measure in ("p50", "p99", "max"):
        webhook, floor = total["full"][measure], total["bare"][measure]
        print(f"{measure + ' (ms)':22}{webhook:10.2f}{floor:10.2f}{webhook / floor:8.2f}")
    for side, name in (("full", "webhook"), ("bare", "bare TLS")):
        p99s = sorted(result["p99"] for result in phase.rounds[side])
        print(f"{name} p99 per round: best {p99s[0]:.2f} ms, worst {p99s[-1]:.2f} ms")
    p99, ratio = total["full"]["p99"], total["full"]["p99"] / total["bare"]["p99"]
    verdict = "met" if p99 < 10 and ratio <= 2 else "MISSED"
    print(f"goal p99 < 10 ms and within 2x bare: {verdict} (p99 {p99:.2f} ms, {ratio:.2f}x)")


if __name__ == "__main__":
    main()
