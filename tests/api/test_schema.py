"""The OpenAPI schema describes the API as it behaves. Schemathesis, as an integrator
runs it (its command line, every check), fuzzes a live server from the schema it
serves, with a token of each role: the schema's examples, random valid and invalid
requests (`fuzzing`) and chains of calls that follow the schema's links (`stateful`).
Any failure of any check fails the test, with Schemathesis's report.

The budget fits `make test`. For a deeper run, add the boundary values of every
parameter (`coverage`, about a hundred requests an operation) and more examples:

    SCHEMATHESIS_EXTRA_ARGS="--phases=examples,coverage,fuzzing,stateful --max-examples=20" \
        pytest tests/api/test_schema.py -p no:xdist
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from driftcontrol import tokens
from driftcontrol.models import ApiToken
from driftcontrol.webhooks import targets
from tests.api.conftest import SCOPE_OF_ROLE
from tests.api.schemathesis_hooks import TOKEN_ID
from tests.api.world import build
from tests.factories import UserFactory

# Per operation and phase, to fit `make test` (each example costs about 0.3 s with
# its checks). Most of the other roles' calls end in a 403, which one example shows;
# the admin, who may call everything, gets more.
EXAMPLES = {"viewer": 1, "operator": 1, "approver": 1, "admin": 5}
ROOT = Path(__file__).resolve().parents[2]
CONFIG = Path(__file__).with_name("schemathesis.toml")


def schemathesis_run(url: str, token: str, examples: int, workdir: Path) -> Any:
    command = [
        str(Path(sys.executable).with_name("st")),
        f"--config-file={CONFIG}",
        "run",
        f"{url}/api/schema/?format=json",
        "--checks=all",
        "--phases=examples,fuzzing,stateful",
        f"--max-examples={examples}",
        "--seed=14",
        "--generation-deterministic",
        "--suppress-health-check=all",
        "--workers=1",
        "--request-timeout=30",
        "--no-color",
        "--output-truncate=false",
        f"--header=Authorization: Bearer {token}",
    ]
    extra = os.environ.get("SCHEMATHESIS_EXTRA_ARGS", "")
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}  # for the hooks module
    return subprocess.run(
        [*command, *extra.split()],
        cwd=workdir,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture
def any_host_is_local(monkeypatch, private_targets):
    """Webhook URLs name hosts Schemathesis makes up: each resolves to 127.0.0.1 at once
    (a DNS server would take a second to say it knows none of them)."""
    monkeypatch.setattr(targets, "_resolve", lambda host, port: ["127.0.0.1"])


@pytest.mark.parametrize("role", SCOPE_OF_ROLE)
def test_every_operation_keeps_to_the_schema(
    role, live_server, transactional_db, settings, requester, any_host_is_local, tmp_path
):
    # Schemathesis sends bad and missing tokens on purpose (`ignored_auth`): those must
    # not lock this address out for the rest of the run.
    settings.TOKEN_FAILURES_PER_ADDRESS = 1_000_000
    settings.BASE_URL = live_server.url
    build(requester)  # something to find: ids 1, 2... exist
    user = UserFactory(username=f"schemathesis-{role}", role=role)
    token, raw = tokens.create(user, "schemathesis", SCOPE_OF_ROLE[role], actor="cli:test")
    ApiToken.objects.filter(pk=token.pk).update(id=TOKEN_ID)

    run = schemathesis_run(live_server.url, raw, EXAMPLES[role], tmp_path)

    assert run.returncode == 0, run.stdout + run.stderr


def test_the_schema_and_its_docs_are_served_by_the_app(client):
    schema_response = client.get("/api/schema/?format=json")
    docs = client.get("/api/docs/").content.decode()

    assert schema_response.json()["openapi"].startswith("3.")
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in docs
    assert "https://" not in docs  # nothing from a CDN


def test_the_schema_documents_the_error_codes(client):
    paths = client.get("/api/schema/?format=json").json()["paths"]

    approve = paths["/api/v1/remediations/{id}/approve/"]["post"]
    assert {"200", "400", "401", "403", "404", "409", "422", "429"} <= set(approve["responses"])
    assert any(p["name"] == "Idempotency-Key" for p in approve["parameters"])
    findings = paths["/api/v1/findings/"]["get"]
    assert {"200", "400", "401", "403", "429"} <= set(findings["responses"])
