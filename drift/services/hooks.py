"""Git push notifications: re-read a source now and scan what depends on it."""

from __future__ import annotations

import hashlib
import hmac

from django.db import transaction
from django.utils import timezone

from drift.models import GitSource, Scan, ScanTrigger
from drift.services import clusters, scanning
from driftcontrol.crypto import unseal
from driftcontrol.exceptions import NotAllowed


def verify(source: GitSource, body: bytes, token: str | None, signature: str | None) -> None:
    """Accept a shared token (X-DriftControl-Token, X-Gitlab-Token) or a GitHub-style
    HMAC of the body (X-Hub-Signature-256: sha256=...); refuse everything else."""
    if not source.hook_secret:
        raise NotAllowed(f"Git source {source.name} has no hook secret; set spec.hookSecret")
    secret = unseal(source.hook_secret, f"hook secret of {source.name}")
    if token is not None and hmac.compare_digest(token.encode(), secret.encode()):
        return
    if signature is not None and signature.startswith("sha256="):
        expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        if hmac.compare_digest(signature.removeprefix("sha256="), expected):
            return
    raise NotAllowed("the push notification's token or signature does not match")


def received(source: GitSource) -> list[Scan]:
    """Ask watchers to re-read the source and queue a scan of every pair that uses it."""
    scans = []
    with transaction.atomic():
        GitSource.objects.filter(pk=source.pk).update(refresh_requested_at=timezone.now())
        for policy in source.policies.filter(enabled=True):
            for cluster in clusters.targets(policy):
                scan, _ = scanning.request(
                    policy, cluster, ScanTrigger.GIT_PUSH, actor=f"hook:{source.name}"
                )
                scans.append(scan)
    return scans
