"""The push hook is reachable by anyone: it answers every stranger the same way and reads
a bounded body, in the API's error shape (issue 12)."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest
from django.test import Client

from drift.models import GitSource, Scan
from driftcontrol.crypto import seal
from tests.factories import ClusterFactory, DriftPolicyFactory, GitSourceFactory

pytestmark = pytest.mark.django_db

SECRET = "s3cret-of-deploy"


@pytest.fixture
def source(tasks: Any) -> GitSource:
    protected = GitSourceFactory(name="deploy", hook_secret=seal(SECRET))
    DriftPolicyFactory(source=protected, cluster_names=[ClusterFactory(name="east").name])
    GitSourceFactory(name="unsecured")  # no hook secret
    return protected


def push(client: Client, name: str, body: bytes, **headers: str) -> Any:
    return client.post(
        f"/hooks/git/{name}", data=body, content_type="application/json", headers=headers
    )


def signed(body: bytes, secret: str = SECRET) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature-256": f"sha256={digest}"}


def answer(response: Any) -> tuple[int, str, bytes]:
    return response.status_code, response["Content-Type"], response.content


def test_unknown_unsecured_and_protected_sources_get_one_answer(
    client: Client, source: GitSource
) -> None:
    body = b'{"ref": "refs/heads/main"}'

    answers = {
        answer(push(client, "nowhere", body, **signed(body))),
        answer(push(client, "unsecured", body, **signed(body))),
        answer(push(client, "deploy", body, **signed(body, "a guess"))),
        answer(push(client, "deploy", body, **{"X-DriftControl-Token": "a guess"})),
    }

    assert len(answers) == 1
    ((status, content_type, content),) = answers
    assert (status, content_type) == (403, "application/json")
    assert json.loads(content) == {
        "type": "permission-denied",
        "title": "Not allowed",
        "status": 403,
        "detail": "unknown source or bad signature",
    }
    assert not Scan.objects.exists()


def test_a_30_mb_body_is_413_in_the_api_shape_whatever_the_source(
    client: Client, source: GitSource, settings: Any
) -> None:
    body = b"x" * 30_000_000

    unknown = push(client, "nowhere", body)
    protected = push(client, "deploy", body, **signed(body))

    assert answer(unknown) == answer(protected)
    assert unknown.status_code == 413
    assert unknown.json() == {
        "type": "request-too-large",
        "title": "Request too large",
        "status": 413,
        "detail": f"the request body is larger than {settings.GIT_HOOK_BODY_MAX_BYTES:,} "
        "bytes, the most this endpoint reads",
    }
    assert not Scan.objects.exists()


def test_a_body_up_to_the_limit_is_read_and_verified(
    client: Client, source: GitSource, settings: Any
) -> None:
    settings.GIT_HOOK_BODY_MAX_BYTES = 2048
    fits = json.dumps({"ref": "refs/heads/main", "pad": "x" * 1900}).encode()
    fits += b" " * (2048 - len(fits))
    too_big = fits + b" "

    assert push(client, "deploy", fits, **signed(fits)).status_code == 202
    assert push(client, "deploy", too_big, **signed(too_big)).status_code == 413


def test_the_hook_limit_is_its_own_not_the_pages_limit(
    client: Client, source: GitSource, settings: Any
) -> None:
    # Push payloads may be larger than forms; the hook reads its body itself.
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    body = json.dumps({"ref": "refs/heads/main", "commits": ["x" * 4000]}).encode()

    assert push(client, "deploy", body, **signed(body)).status_code == 202


def test_a_content_length_that_is_no_number_is_400(client: Client, source: GitSource) -> None:
    response = client.post(
        "/hooks/git/deploy", data=b"{}", content_type="application/json", CONTENT_LENGTH="ten"
    )

    assert response.status_code == 400
    assert response.json()["type"] == "invalid-request"
