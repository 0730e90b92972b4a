"""Git push notifications: re-read a source now and scan what depends on it."""

from __future__ import annotations

import hashlib
import hmac
import logging

from django.db import transaction
from django.utils import timezone

from drift.models import GitSource, Scan, ScanTrigger
from drift.services import clusters, scanning
from driftcontrol.crypto import unseal
from driftcontrol.exceptions import NotAllowed

log = logging.getLogger(__name__)

# One answer for every refusal: a hook that said "no such source" to some names and "bad
# signature" to others would tell anyone which sources exist.
REFUSAL = "unknown source or bad signature"
# Checked against when there is no secret, so a refusal costs the same time either way.
_DECOY = "no source has this secret"


def authenticate(name: str, body: bytes, token: str | None, signature: str | None) -> GitSource:
    """The source called ``name``, when the sender proves it knows the source's hook
    secret: a shared token (X-DriftControl-Token, X-Gitlab-Token) or a GitHub-style HMAC
    of the body (X-Hub-Signature-256: sha256=...). Anything else is NotAllowed(REFUSAL),
    whether the source is missing, has no hook secret, or the proof is wrong."""
    source = GitSource.objects.filter(name=name).first()
    secret = None
    if source is not None and source.hook_secret:
        secret = unseal(source.hook_secret, f"hook secret of {source.name}") or None
    if source is not None and secret is None:
        log.warning("push notification for Git source %s refused: it has no hook secret", name)
    matched = _matches(secret or _DECOY, body, token, signature)
    if source is None or secret is None or not matched:
        raise NotAllowed(REFUSAL)
    return source


def _matches(secret: str, body: bytes, token: str | None, signature: str | None) -> bool:
    if token is not None and hmac.compare_digest(token.encode(), secret.encode()):
        return True
    if signature is not None and signature.startswith("sha256="):
        expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(signature.removeprefix("sha256=").encode(), expected.encode())
    return False


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
