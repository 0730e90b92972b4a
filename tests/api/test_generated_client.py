"""A Python client generated from the live schema (openapi-python-client, as an integrator
would make one) builds without a warning and runs the walkthrough's main steps: list the
findings, link a ticket, request a remediation, approve it.

Operations are found by their operationId and request bodies by the operation's
signature, so the test holds whatever tag or component name the schema gives them.
"""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys
import typing
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.api.conftest import token_for
from tests.factories import UserFactory
from tests.integration.conftest import apply_shop, scan

pytestmark = [pytest.mark.kube, pytest.mark.django_db(transaction=True)]
GENERATOR = Path(sys.executable).parent / "openapi-python-client"
PACKAGE = "driftcontrol_client"
# Without post hooks: the generator would run ruff over its output, which only formats it.
CONFIG = "post_hooks: []\n"


def generate(schema_url: str, directory: Path) -> str:
    """Generate the client package into ``directory``; the generator's output."""
    config = directory / "generator.yaml"
    config.write_text(CONFIG)
    done = subprocess.run(
        [
            str(GENERATOR),
            "generate",
            "--url",
            schema_url,
            "--meta",
            "none",  # the package alone: no pyproject, nothing to install
            "--config",
            str(config),
            "--output-path",
            str(directory / PACKAGE),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    return output


@pytest.fixture
def client_package(live_server: Any, tmp_path: Path) -> Iterator[ModuleType]:
    output = generate(f"{live_server.url}/api/schema/?format=json", tmp_path)
    assert "warning" not in output.lower(), output
    sys.path.insert(0, str(tmp_path))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(tmp_path))
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(f"{PACKAGE}.")]:
            del sys.modules[name]


def operation(package: ModuleType, operation_id: str) -> ModuleType:
    """The generated module of one operation, wherever its tag put it."""
    api = importlib.import_module(f"{package.__name__}.api")
    for found in pkgutil.walk_packages(api.__path__, f"{api.__name__}."):
        if found.name.rsplit(".", 1)[-1] == operation_id:
            return importlib.import_module(found.name)
    raise AssertionError(f"the generated client has no operation {operation_id}")


def body(module: ModuleType, fields: dict[str, Any]) -> Any:
    """The operation's request body model (of an optional body: `Model | Unset`), made from
    plain fields."""
    declared = typing.get_type_hints(module.sync_detailed)["body"]
    model = next(t for t in typing.get_args(declared) or [declared] if hasattr(t, "from_dict"))
    return model.from_dict(fields)


def call(module: ModuleType, client: Any, **arguments: Any) -> Any:
    response = module.sync_detailed(client=client, **arguments)
    assert 200 <= response.status_code < 300, (response.status_code, response.content)
    return response.parsed


def test_a_generated_client_runs_the_walkthrough(
    client_package,
    live_server,
    tasks,
    devcluster,
    shop_repo,
    shop_policy,
    scanner_cluster,
    kube_namespace,
    approver,
):
    apply_shop(devcluster, shop_repo, kube_namespace)
    devcluster.kubectl(
        "set", "image", "-n", kube_namespace, "deployment/web", "web=evil.example/web:6.6.6"
    )
    scan(shop_policy, scanner_cluster)
    jira = UserFactory(username="jira", role="operator")
    Client = client_package.AuthenticatedClient
    with (  # closed after: a kept-alive connection would hold the live server's database one
        Client(base_url=live_server.url, token=token_for(jira, "write")) as tickets,
        Client(base_url=live_server.url, token=token_for(approver, "approve")) as approving,
    ):
        page = call(operation(client_package, "findings_list"), tickets, policy="shop")
        web = next(f for f in page.results if f.name == "web" and f.kind == "Deployment")
        link = operation(client_package, "findings_ticket_create")
        ticket = {"ticket_id": "OPS-123", "url": "https://jira.example.com/browse/OPS-123"}
        linked = call(link, tickets, id=web.id, body=body(link, ticket))
        create = operation(client_package, "remediations_create")
        fields = {"findings": [web.id], "strategy": "sync", "reason": "OPS-123"}
        requested = call(create, tickets, body=body(create, fields))
        approve = operation(client_package, "remediations_approve_create")
        decision = {"comment": "matches OPS-123"}
        approved = call(approve, approving, id=requested.id, body=body(approve, decision))

    assert linked.ticket_id == "OPS-123"
    assert (requested.status, requested.findings) == ("pending", [web.id])
    assert (approved.status, [a.approver for a in approved.approvals]) == ("approved", ["anna"])
    assert tasks.queued("remediation.execute") == [requested.id]
