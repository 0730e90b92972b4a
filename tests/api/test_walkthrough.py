"""docs/integrations.md, run as printed on `make demo`.

scripts/demo starts as `make demo` starts it, as real processes (web, worker, beat and the
watcher, SQLite and the file broker under its var dir, its local API servers `east` and
`west`); then every marked step of the page runs with bash, the webhook receiver it starts
in "another terminal" included, and the webhooks it promises arrive, signed as its Python
snippet checks.

The test sets only what the page tells the reader to set, and the demo's own knobs, which
the reader's shell shares with the demo: DEMO_PORT, DRIFTCONTROL_VAR_DIR and
DEVCLUSTER_STATE_DIR give this run its own port, state and API servers, so a demo someone
runs on this machine is left alone. The page's setup step runs verbatim; DRIFT and
RECEIVER_URL then get this run's ports instead of the demo's 8000 and 8001.
"""

from __future__ import annotations

import ast
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.api import doc_steps

ROOT = Path(__file__).resolve().parents[2]
DEVCLUSTER = str(ROOT / "scripts" / "devcluster")


def free_port_block(size: int = 4, among: range = range(20000, 30000, 10)) -> int:
    """A base port P with P..P+size-1 free (a local API server uses four), below the
    kernel's ephemeral range (32768-60999), where no outgoing connection of the suite can
    take it between this check and the server's bind."""
    for _ in range(100):
        base = random.choice(among)
        if all(_is_free(port) for port in range(base, base + size)):
            return base
    raise AssertionError("no free block of ports")


def _is_free(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def wait_until(
    condition: Callable[[], Any], timeout: float, what: str, log: Path | None = None
) -> Any:
    """``condition()`` once true; on time-out, what ``log`` says (the demo's last lines)."""
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        if time.monotonic() >= deadline:
            tail = "\n".join(log.read_text().splitlines()[-60:]) if log else ""
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}\n{tail}")
        time.sleep(0.3)
    return result


@pytest.fixture
def shell(tmp_path: Path) -> dict[str, str]:
    """The reader's shell: this machine's environment without the test suite's settings
    (its DATABASE_URL, SECRET_KEY, DEBUG, ...; the demo runs on its own defaults), plus the
    demo's knobs. Where the tools are (the build cache, kustomize) stays."""
    from driftcontrol import env as settings

    suite_only = set(settings.KNOWN) - {"DRIFTCONTROL_CACHE", "DRIFTCONTROL_KUSTOMIZE"}
    suite_only |= {"DJANGO_SETTINGS_MODULE", "KUBECONFIG"}
    inherited = {name: value for name, value in os.environ.items() if name not in suite_only}
    # Apart from the API servers' blocks: these are bound minutes later, after the seed.
    demo_ports = free_port_block(size=4, among=range(30000, 32000, 10))
    return {
        **inherited,
        "DEMO_PORT": str(demo_ports),
        "DEMO_FEED_PORT": str(demo_ports + 1),
        "DEMO_REGISTRY_PORT": str(demo_ports + 2),
        "DEMO_ADMISSION_PORT": str(demo_ports + 3),
        "DRIFTCONTROL_VAR_DIR": str(tmp_path / "var"),
        "DEVCLUSTER_STATE_DIR": str(tmp_path / "clusters"),
        # The one departure from `make demo`: static files served uncollected, since
        # hashing and compressing them takes a minute and the walkthrough opens no page.
        "STATIC_MANIFEST": "0",
    }


def _devcluster(shell: dict[str, str], *args: str) -> subprocess.Popen[str]:
    # Without the demo's var dir: _stop_demo kills what carries it, and these servers are
    # stopped by `devcluster delete`.
    env = {name: value for name, value in shell.items() if name != "DRIFTCONTROL_VAR_DIR"}
    return subprocess.Popen(
        [DEVCLUSTER, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def _succeeds(command: subprocess.Popen[str]) -> None:
    output, _ = command.communicate(timeout=300)
    assert command.returncode == 0, f"{' '.join(map(str, command.args))}:\n{output}"


@pytest.fixture
def demo_clusters(devclusters: object, shell: dict[str, str]) -> Iterator[list[Any]]:
    """The demo's `east` and `west`, this run's own, starting on free ports (their starts,
    to wait for); deleted afterwards. `devclusters` builds the binaries.

    The demo may start while they boot: a start writes the ports it chose (cluster.env)
    while it holds the cluster's lock, so once both files exist, the demo's own `devcluster
    start` waits for that start to finish and finds the cluster running on those ports.
    """
    state = Path(shell["DEVCLUSTER_STATE_DIR"])
    starting: list[subprocess.Popen[str]] = []
    try:
        for name in ("east", "west"):
            port = str(free_port_block())
            starting.append(_devcluster(shell, "start", "--name", name, "--port", port))
            chosen = state / name / "cluster.env"
            wait_until(lambda c=chosen: c.exists() or _failed(starting), 120, f"{name}'s ports")
        yield starting
    finally:
        for command in starting:
            command.wait(timeout=300)
        _succeeds(_devcluster(shell, "delete", "--all"))


def _failed(commands: list[subprocess.Popen[str]]) -> bool:
    for command in commands:
        if command.poll() not in (None, 0):
            _succeeds(command)  # fails the test with the command's output
    return False


@dataclass
class Demo:
    url: str
    log: Path


def _stop_demo(process: subprocess.Popen[bytes], var_dir: str) -> None:
    """Ctrl-C, as a person stops it; then anything still running with this run's var dir
    (a process the demo started and failed to stop) is killed by its id."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    marker = f"DRIFTCONTROL_VAR_DIR={var_dir}".encode()
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            leftover = marker in environ.read_bytes().split(b"\0")
        except OSError:
            continue
        if leftover:
            os.kill(int(environ.parent.name), signal.SIGKILL)


@pytest.fixture
def demo(demo_clusters: list[Any], shell: dict[str, str], tmp_path: Path) -> Iterator[Demo]:
    log = tmp_path / "demo.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "scripts/demo"],  # what `make demo` runs
            cwd=ROOT,
            env=shell,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:

        def running() -> None:
            assert process.poll() is None, f"the demo stopped:\n{log.read_text()}"

        def started() -> bool:
            running()
            return "press Ctrl-C to stop" in log.read_text()

        def serving() -> bool:
            running()
            return _answers(f"{url}/healthz")

        url = f"http://127.0.0.1:{shell['DEMO_PORT']}"
        wait_until(started, 300, "the demo to start", log)
        for command in demo_clusters:
            _succeeds(command)
        wait_until(serving, 60, "the demo's web server", log)
        yield Demo(url, log)
    finally:
        _stop_demo(process, shell["DRIFTCONTROL_VAR_DIR"])


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


class Deliveries:
    """What the page's receiver printed: one JSON line per delivery."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def all(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        lines = [json.loads(line) for line in self.path.read_text().splitlines() if line]
        return [{**line, "event_body": json.loads(line["body"])} for line in lines]

    def wait_for(self, event: str, about: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        """The first delivery of ``event`` whose payload is ``about`` what we wait for."""

        def arrived() -> dict[str, Any] | None:
            matching = (
                line
                for line in self.all()
                if line["event"] == event and about(line["event_body"]["payload"])
            )
            return next(matching, None)

        delivery: dict[str, Any] = wait_until(arrived, 60, f"a {event} webhook")
        return delivery


def approve_again(env: dict[str, str]) -> tuple[int, dict[str, Any]]:
    """The approver decides again, with another Idempotency-Key."""
    request = urllib.request.Request(
        f"{env['DRIFT']}/api/v1/remediations/{env['REQUEST']}/approve/",
        data=b"{}",
        method="POST",
        headers={
            "Authorization": f"Bearer {env['APPROVER_TOKEN']}",
            "Content-Type": "application/json",
            "Idempotency-Key": "OPS-123-approve-again",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


@pytest.mark.kube
def test_the_walkthrough_runs_as_printed_on_the_demo(
    demo: Demo, shell: dict[str, str], tmp_path: Path
) -> None:
    steps = doc_steps.steps()
    verify = doc_steps.verify_function()
    _, env = doc_steps.run(steps["setup"], shell, ROOT)
    env["DRIFT"] = demo.url
    receiver_port = free_port_block(1, range(30005, 32000, 10))
    env["RECEIVER_URL"] = f"http://127.0.0.1:{receiver_port}/hooks/driftcontrol"
    received = Deliveries(tmp_path / "received.jsonl")
    receiver = doc_steps.start(steps["receive"], env, ROOT, received.path)
    try:
        _, env = doc_steps.run(steps["tokens"], env, ROOT)
        subscription, env = doc_steps.run(steps["subscribe"], env, ROOT)
        assert subscription["name"] == "jira" and subscription["active"]

        doc_steps.run(steps["drift"], env, ROOT)
        scan, env = doc_steps.run(steps["scan"], env, ROOT)
        assert scan["policy"] == "shop-production" and scan["cluster"] == "east"
        opened = received.wait_for("finding.opened", lambda p: p["finding"]["name"] == "api")
        finding = opened["event_body"]["payload"]["finding"]
        assert opened["event_body"]["payload"]["links"]["api"] == (
            f"{demo.url}/api/v1/findings/{finding['id']}/"
        )
        env["FINDING"] = str(finding["id"])  # as the page says: payload.finding.id

        linked, env = doc_steps.run(steps["link-ticket"], env, ROOT)
        assert linked["ticket_id"] == "OPS-123"
        requested, env = doc_steps.run(steps["request-remediation"], env, ROOT)
        assert (requested["status"], requested["findings"]) == ("pending", [finding["id"]])
        approved, env = doc_steps.run(steps["approve"], env, ROOT)
        assert approved["status"] in ("approved", "executing")
        assert [a["approver"] for a in approved["approvals"]] == ["approver"]
        status, again = approve_again(env)
        assert (status, again["type"]) == (409, "invalid-transition")  # as step 6 says

        received.wait_for("remediation.succeeded", lambda p: True)
        received.wait_for("finding.resolved", lambda p: p["finding"]["id"] == finding["id"])
        checked, env = doc_steps.run(steps["check-finding"], env, ROOT)
        assert (env["FINDING_STATUS"], checked["ticket_id"]) == ("resolved", "OPS-123")
    finally:
        doc_steps.stop(receiver)

    deliveries = received.all()
    assert {"finding.opened", "remediation.succeeded", "finding.resolved"} <= {
        d["event"] for d in deliveries
    }
    assert all(d["verified"] for d in deliveries), deliveries
    secret = env["WEBHOOK_SECRET"]
    assert all(verify(secret, d["signature"], d["body"].encode()) for d in deliveries)
    assert not verify("not-the-secret", deliveries[0]["signature"], deliveries[0]["body"].encode())


def test_every_step_of_the_walkthrough_is_run_by_the_test() -> None:
    ran = {
        "setup",
        "receive",
        "tokens",
        "subscribe",
        "drift",
        "scan",
        "link-ticket",
        "request-remediation",
        "approve",
        "check-finding",
    }

    assert set(doc_steps.steps()) == ran


def test_the_receiver_checks_signatures_with_the_documents_code() -> None:
    def verify_of(source: str) -> str:
        tree = ast.parse(source)
        function = next(n for n in tree.body if getattr(n, "name", "") == "verify")
        return ast.dump(function)

    document = doc_steps.DOC.read_text()
    block = document.split("<!-- verify -->", 1)[1].split("```python\n", 1)[1].split("```")[0]
    receiver = (ROOT / "scripts" / "webhook-receiver").read_text()

    assert verify_of(receiver) == verify_of(block)
