"""Git push hooks: POST /hooks/git/<source> (drift.views) and drift.services.hooks."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest
from django.test import Client

from drift.models import Cluster, DriftPolicy, GitSource, Scan
from drift.services import hooks
from driftcontrol.crypto import seal
from driftcontrol.exceptions import NotAllowed
from driftcontrol.models import AuditEvent
from tests.factories import ClusterFactory, DriftPolicyFactory, GitSourceFactory, ScanFactory

pytestmark = pytest.mark.django_db

SECRET = "s3cret"
# Every refusal of the sender, whatever the reason: the hook does not reveal source names.
REFUSED = {
    "type": "permission-denied",
    "title": "Not allowed",
    "status": 403,
    "detail": "unknown source or bad signature",
}
BODY = json.dumps({"ref": "refs/heads/main", "after": "0" * 40}).encode()


def signature(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@pytest.fixture
def sent(tasks) -> list[object]:
    """Scan ids handed to Celery (never to a real broker)."""
    return tasks.queued("scans.run")


@pytest.fixture
def source() -> GitSource:
    return GitSourceFactory(name="deploy", hook_secret=seal(SECRET))


@pytest.fixture
def pairs(source: GitSource) -> dict[str, Any]:
    """Policies of the source (and one of another) targeting clusters by name and by label."""
    eu = ClusterFactory(name="prod-eu", labels={"env": "prod"})
    us = ClusterFactory(name="prod-us", labels={"env": "prod"})
    lab = ClusterFactory(name="lab", labels={"env": "lab"})
    ClusterFactory(name="retired", labels={"env": "prod"}, enabled=False)
    by_name = DriftPolicyFactory(name="shop", source=source, cluster_names=["prod-eu", "lab"])
    by_label = DriftPolicyFactory(
        name="platform", source=source, cluster_selector={"matchLabels": {"env": "prod"}}
    )
    DriftPolicyFactory(name="paused", source=source, cluster_names=["prod-eu"], enabled=False)
    DriftPolicyFactory(name="elsewhere", cluster_names=["prod-eu"])  # another source
    return {"eu": eu, "us": us, "lab": lab, "shop": by_name, "platform": by_label}


def push(client: Client, name: str = "deploy", body: bytes = BODY, **headers: str) -> Any:
    return client.post(
        f"/hooks/git/{name}", data=body, content_type="application/json", headers=headers
    )


def pairs_of(scans: Any) -> set[tuple[str, str]]:
    return {(s.policy.name, s.cluster.name) for s in scans}


# --- accepted ----------------------------------------------------------------------------


def test_a_push_with_the_token_queues_a_scan_of_every_pair_that_uses_the_source(
    client: Client,
    source: GitSource,
    pairs: dict[str, Any],
    sent: list[int],
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = push(client, **{"X-DriftControl-Token": SECRET})

    assert response.status_code == 202
    scans = Scan.objects.all()
    assert response.json() == {"source": "deploy", "scans": sorted(s.pk for s in scans)}
    assert pairs_of(scans) == {
        ("shop", "prod-eu"),
        ("shop", "lab"),
        ("platform", "prod-eu"),
        ("platform", "prod-us"),
    }
    assert {(s.trigger, s.status) for s in scans} == {("git-push", "queued")}
    assert sorted(sent) == sorted(s.pk for s in scans)
    source.refresh_from_db()
    assert source.refresh_requested_at is not None
    audits = AuditEvent.objects.filter(action="scan.requested")
    assert {a.actor for a in audits} == {"hook:deploy"}
    assert {a.data["trigger"] for a in audits} == {"git-push"}
    assert audits.count() == 4


def test_a_gitlab_token_is_accepted(
    client: Client, source: GitSource, pairs: dict[str, Any], sent: list[int]
) -> None:
    response = push(client, **{"X-Gitlab-Token": SECRET})

    assert response.status_code == 202
    assert len(response.json()["scans"]) == 4


def test_a_github_signature_of_the_body_is_accepted(
    client: Client, source: GitSource, pairs: dict[str, Any], sent: list[int]
) -> None:
    response = push(client, **{"X-Hub-Signature-256": signature(BODY)})

    assert response.status_code == 202
    assert Scan.objects.count() == 4


def test_a_push_while_a_scan_is_queued_reuses_it(
    client: Client, source: GitSource, pairs: dict[str, Any], sent: list[int]
) -> None:
    waiting = ScanFactory(policy=pairs["shop"], cluster=pairs["eu"], trigger="schedule")

    response = push(client, **{"X-DriftControl-Token": SECRET})

    assert response.status_code == 202
    assert waiting.pk in response.json()["scans"]
    assert Scan.objects.filter(policy=pairs["shop"], cluster=pairs["eu"]).get() == waiting
    assert Scan.objects.count() == 4


def test_a_source_nothing_uses_is_refreshed_without_scans(
    client: Client, source: GitSource, sent: list[int]
) -> None:
    response = push(client, **{"X-DriftControl-Token": SECRET})

    assert response.status_code == 202
    assert response.json() == {"source": "deploy", "scans": []}
    source.refresh_from_db()
    assert source.refresh_requested_at is not None


# --- refused -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"X-DriftControl-Token": "s3cret "},
        {"X-Gitlab-Token": "S3CRET"},
        {"X-Hub-Signature-256": signature(BODY, "other")},
        {"X-Hub-Signature-256": signature(b"another body")},
        {"X-Hub-Signature-256": signature(BODY).removeprefix("sha256=")},
        {"X-Hub-Signature-256": signature(BODY).replace("sha256=", "sha1=")},
        {},
    ],
    ids=[
        "token-with-space",
        "gitlab-wrong-case",
        "signed-with-another-secret",
        "signature-of-another-body",
        "signature-without-prefix",
        "signature-with-another-algorithm",
        "nothing",
    ],
)
def test_a_push_without_the_right_token_or_signature_is_refused(
    client: Client,
    source: GitSource,
    pairs: dict[str, Any],
    sent: list[int],
    headers: dict[str, str],
) -> None:
    response = push(client, **headers)

    assert response.status_code == 403
    assert response.json() == REFUSED
    assert not Scan.objects.exists()
    source.refresh_from_db()
    assert source.refresh_requested_at is None


def test_a_source_without_a_hook_secret_refuses_every_push(
    client: Client, sent: list[int], caplog: pytest.LogCaptureFixture
) -> None:
    open_source = GitSourceFactory(name="open")
    DriftPolicyFactory(source=open_source, cluster_names=[ClusterFactory().name])

    response = push(client, "open", **{"X-DriftControl-Token": ""})

    assert response.status_code == 403
    assert response.json() == REFUSED
    assert not Scan.objects.exists()
    assert "Git source open refused: it has no hook secret" in caplog.text  # for its admin


def test_an_unknown_source_gets_the_answer_a_wrong_secret_gets(
    client: Client, source: GitSource
) -> None:
    unknown = push(client, "nowhere", **{"X-DriftControl-Token": SECRET})
    protected = push(client, "deploy", **{"X-DriftControl-Token": "guess"})

    assert (unknown.status_code, unknown.json()) == (403, REFUSED)
    assert (protected.status_code, protected.json()) == (403, REFUSED)


def test_the_hook_only_answers_post(client: Client, source: GitSource) -> None:
    response = client.get("/hooks/git/deploy", headers={"X-DriftControl-Token": SECRET})

    assert response.status_code == 405
    assert not Scan.objects.exists()


# --- the service -------------------------------------------------------------------------


def test_authenticate_accepts_the_token_or_a_signature_and_refuses_the_rest(
    source: GitSource,
) -> None:
    assert hooks.authenticate("deploy", BODY, SECRET, None) == source
    assert hooks.authenticate("deploy", BODY, None, signature(BODY)) == source
    # The signature still vouches when the token is wrong.
    assert hooks.authenticate("deploy", BODY, "wrong", signature(BODY)) == source

    for name, token, signed in [
        ("deploy", "wrong", None),
        ("deploy", None, None),
        ("deploy", "\u00e9t\u00e9", "sha256=\u00e9t\u00e9"),  # not ASCII: no TypeError
        ("nowhere", SECRET, signature(BODY)),
    ]:
        with pytest.raises(NotAllowed, match="^unknown source or bad signature$"):
            hooks.authenticate(name, BODY, token, signed)


def test_received_skips_disabled_clusters_and_policies(
    source: GitSource, pairs: dict[str, Any], sent: list[int]
) -> None:
    Cluster.objects.filter(name="lab").update(enabled=False)
    DriftPolicy.objects.filter(name="platform").update(enabled=False)

    scans = hooks.received(source)

    assert pairs_of(scans) == {("shop", "prod-eu")}
