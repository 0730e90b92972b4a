"""The API takes a policy's `syncGracePeriod` in its document, shows it, and refuses a bad
one under the document's own path, as `drift apply` does (tests/drift/test_sync_grace.py)."""

from __future__ import annotations

from typing import Any

import pytest

from drift.models import DriftPolicy
from tests.drift.test_sync_grace import policy_document
from tests.factories import GitSourceFactory

pytestmark = pytest.mark.django_db


def test_the_api_takes_and_shows_the_grace(client_for: Any, admin_user: Any) -> None:
    GitSourceFactory(name="shop")
    client = client_for(admin_user)

    created = client.post(
        "/api/v1/policies/", policy_document(syncGracePeriod="15m"), format="json"
    )
    refused = client.patch(
        "/api/v1/policies/shop/", {"spec": {"syncGracePeriod": "a while"}}, format="json"
    )

    assert created.status_code == 201, created.json()
    assert created.json()["sync_grace_seconds"] == 900
    assert created.json()["document"]["spec"]["syncGracePeriod"] == "900s"
    assert refused.status_code == 400
    assert [(e["field"], e["detail"]) for e in refused.json()["errors"]] == [
        ("spec.syncGracePeriod", "must be a duration of at least 60s, like 90s, 2m or 1h")
    ]
    assert DriftPolicy.objects.get(name="shop").sync_grace_seconds == 900
