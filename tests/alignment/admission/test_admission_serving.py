"""`drift admission serve` (alignment.admission.serving): the process as an operator runs
it, on PostgreSQL with the real authority, worlds and recorder. It answers over TLS with
a certificate its CA signed, and a SIGTERM stops it cleanly, its run recorded."""

from __future__ import annotations

import http.client
import io
import json
import os
import signal
import socket
import ssl
import threading
import time
from argparse import Namespace
from pathlib import Path
from typing import Any

import pytest
from django.core.management.color import no_style
from django.db import connection

from alignment.admission import authority, serving
from alignment.models import AdmissionDecision, AdmissionServer
from driftcontrol.cli.base import Console
from tests.alignment.admission.test_decide import DEPLOYER, OUTSIDER, REVISION, set_image
from tests.factories import (
    ClusterFactory,
    DriftPolicyFactory,
    GitSourceFactory,
    LaneFactory,
    ManagedObjectFactory,
)

pytestmark = pytest.mark.django_db(transaction=True)

REPO = "https://git.example/shop/deploy.git"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def when_listening(port: int, then: Any) -> threading.Thread:
    """Run ``then`` in a thread once something accepts connections on ``port``."""

    def wait_and_run() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        try:
            then()
        finally:
            connection.close()  # this thread's
            os.kill(os.getpid(), signal.SIGTERM)

    thread = threading.Thread(target=wait_and_run, daemon=True)
    thread.start()
    return thread


def git_manages_web_in_a_deny_lane() -> None:
    """Cluster prod: lane controlled (deny) owns shop, where Git manages Deployment web."""
    lane = LaneFactory(
        name="controlled",
        namespaces=["shop"],
        identities=[DEPLOYER],
        admission={"mode": "deny", "breakGlassGroups": ["sre-oncall"]},
    )
    prod = ClusterFactory(name="prod")
    prod.lanes.add(lane)
    policy = DriftPolicyFactory(cluster_names=["prod"], source=GitSourceFactory(url=REPO))
    ManagedObjectFactory(
        policy=policy,
        cluster=prod,
        source=REPO,
        revision=REVISION,
    )


def test_serve_answers_over_tls_until_sigterm_and_records_its_run(settings: Any) -> None:
    settings.ADMISSION_HOSTS = ["127.0.0.1", "localhost"]
    git_manages_web_in_a_deny_lane()
    port = free_port()
    answers: dict[str, Any] = {}

    def ask() -> None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.load_verify_locations(cadata=authority.ca_bundle())
        connection = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=10)
        connection.request("GET", "/healthz")
        answers["healthz"] = connection.getresponse().read()
        body = json.dumps(set_image(OUTSIDER)).encode()
        connection.request("POST", "/validate/prod", body)
        answers["prod"] = json.loads(connection.getresponse().read())["response"]
        # No cluster of that name: allowed, whatever the change.
        connection.request("POST", "/validate/nowhere", body)
        answers["nowhere"] = json.loads(connection.getresponse().read())["response"]
        answers["runs"] = list(AdmissionServer.objects.values_list("address", "stopped_at"))

    out, err = io.StringIO(), io.StringIO()
    asking = when_listening(port, ask)

    code = serving.serve(Namespace(host="127.0.0.1", port=port), Console(out, err, no_style()))

    asking.join(10)
    assert code == 0, err.getvalue()
    assert answers["healthz"] == b"ok"
    assert answers["prod"]["allowed"] is False
    assert "lane.deployer" in answers["prod"]["status"]["message"]
    assert answers["nowhere"]["allowed"] is True
    # The recorder wrote the refusal when the server stopped.
    [refused] = AdmissionDecision.objects.all()
    assert (refused.outcome, refused.user, refused.lane, refused.name) == (
        "deny",
        "alice",
        "controlled",
        "web",
    )
    assert refused.latency_ms > 0
    assert answers["runs"] == [(f"127.0.0.1:{port}", None)]
    [(address, stopped_at)] = AdmissionServer.objects.values_list("address", "stopped_at")
    assert stopped_at is not None
    said = out.getvalue()
    assert f"admission webhook listening on https://127.0.0.1:{port}" in said
    assert "serving certificate for 127.0.0.1, localhost" in said
    assert "CA fingerprint (SHA-256) " in said
    assert "allowed without a decision: 1 unknown cluster" in said
    assert said.rstrip().endswith("admission webhook stopped")


def test_workers_share_the_port_and_stop_together(settings: Any, tmp_path: Path) -> None:
    settings.ADMISSION_HOSTS = ["127.0.0.1"]
    git_manages_web_in_a_deny_lane()
    port = free_port()
    answers: list[bool] = []

    def ask() -> None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.load_verify_locations(cadata=authority.ca_bundle())
        for number in range(8):
            body = set_image(OUTSIDER, uid=f"0000000{number}-9b8d-4c61-a0f2-6d1e8b4c7a90")
            connection = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=10)
            connection.request("POST", "/validate/prod", json.dumps(body).encode())
            answers.append(json.loads(connection.getresponse().read())["response"]["allowed"])
            connection.close()

    said = (tmp_path / "out.txt").open("w+")
    asking = when_listening(port, ask)

    code = serving.serve(
        Namespace(host="127.0.0.1", port=port, workers=2),
        Console(said, io.StringIO(), no_style()),
    )

    asking.join(10)
    assert code == 0
    assert answers == [False] * 8
    runs = AdmissionServer.objects.values_list("address", "pid", "stopped_at")
    assert len(runs) == 2 and len({pid for _, pid, _ in runs}) == 2
    assert all(address == f"127.0.0.1:{port}" and stopped for address, _, stopped in runs)
    assert AdmissionDecision.objects.filter(outcome="deny").count() == 8
    said.seek(0)
    output = said.read()
    assert f"2 worker processes on port {port}" in output
    assert output.count("admission webhook listening on") == 1
