"""Fixtures for API tests: clients signed in by token or session, tokens per role, and a
real HTTP receiver for webhooks on 127.0.0.1."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from rest_framework.test import APIClient

from driftcontrol import tokens

# The integration tests' Git repository, cluster and policy, for the walkthrough.
from tests.integration.conftest import scanner_cluster, shop_policy, shop_repo  # noqa: F401

SCOPE_OF_ROLE = {"viewer": "read", "operator": "write", "approver": "approve", "admin": "admin"}


@pytest.fixture(autouse=True)
def _api_settings(settings: Any) -> None:
    # Generous limits: tests that need throttling lower them themselves.
    settings.API_THROTTLE_RATES = {"client": "100000/minute", "anonymous": "100000/minute"}
    settings.BASE_URL = "http://testserver"
    # Throttle counters in the real (Redis) cache, but under a prefix of this test's own:
    # token ids repeat from one run to the next, their counters must not.
    api_cache = dict(settings.CACHES["api"], KEY_PREFIX=f"test-{uuid.uuid4().hex}")
    settings.CACHES = {**settings.CACHES, "api": api_cache}


def token_for(user: Any, scope: str | None = None) -> str:
    """A usable token for ``user`` with ``scope`` (default: the widest their role allows)."""
    scope = scope or tokens.widest_scope(user) or "read"
    _, raw = tokens.create(user, "test", scope, actor="cli:test")
    return raw


@pytest.fixture
def client_for(db: None) -> Callable[..., APIClient]:
    """client_for(user, scope=None) -> an APIClient sending that user's Bearer token."""

    def make(user: Any, scope: str | None = None) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(user, scope)}")
        return client

    return make


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """An HTTP server in a thread that records every POST and answers from a script."""

    url: str
    requests: list[Received] = field(default_factory=list)
    # Status codes to answer with, in order; 200 once the script runs out.
    script: list[int] = field(default_factory=list)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    def wait_for(self, count: int, timeout: float = 30) -> list[Received]:
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.requests) >= count, timeout)
        return list(self.requests)

    def events(self) -> list[dict[str, Any]]:
        return [r.json() for r in self.requests]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    box: dict[str, Receiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            target = box["receiver"]
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with target.arrived:
                target.requests.append(Received(self.path, dict(self.headers.items()), body))
                code = target.script.pop(0) if target.script else 200
                target.arrived.notify_all()
            self.send_response(code)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"ok" if code < 300 else b"not now")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    box["receiver"] = Receiver(f"http://127.0.0.1:{server.server_address[1]}/hooks/drift")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield box["receiver"]
    server.shutdown()
    server.server_close()


@pytest.fixture
def private_targets(settings: Any) -> None:
    """Webhooks to 127.0.0.1 (the test receiver) are allowed."""
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
