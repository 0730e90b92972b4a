"""Alignment: the API servers' audit feed and who may write any lane's objects."""

from driftcontrol import env
from driftcontrol.settings.celery import CELERY_BEAT_SCHEDULE

# The feed is read before the sender is known, so its body is bounded too. kube-apiserver
# sends batches of at most 400 events (--audit-webhook-batch-max-size) by default; at the
# Metadata level one is under 2 KiB.
AUDIT_HOOK_BODY_MAX_BYTES = env.integer(
    "AUDIT_HOOK_BODY_MAX_BYTES",
    4 * 1024 * 1024,
    "largest audit batch /hooks/audit/<cluster> reads, in bytes",
    minimum=1024,
)
KUBE_WRITES_RETENTION_DAYS = env.integer(
    "KUBE_WRITES_RETENTION_DAYS",
    30,
    "days the writes an audit feed reported are kept",
    minimum=1,
)
# Besides the control plane: DriftControl's own identity on the clusters (its syncs are
# not out-of-lane edits), and any controller that writes lane objects by design.
ALIGNMENT_TRUSTED_WRITERS = env.string_list(
    "ALIGNMENT_TRUSTED_WRITERS",
    ["driftcontrol-scanner", "system:serviceaccount:driftcontrol:*"],
    "identities (globs) that may write any lane's objects, e.g. DriftControl's own",
)
CELERY_BEAT_SCHEDULE["audit-feed-prune"] = {"task": "audit_feed.prune", "schedule": 3600.0}

# Supply chain (alignment.supply_chain): reading registries, and how long a verdict that
# could still change (an image signed or attested after it was deployed) is kept.
REGISTRY_TIMEOUT_SECONDS = env.integer(
    "REGISTRY_TIMEOUT_SECONDS",
    10,
    "seconds an OCI registry may take to answer one request (retries come on top)",
    minimum=1,
)
SUPPLY_RECHECK_SECONDS = env.integer(
    "SUPPLY_RECHECK_SECONDS",
    600,
    "seconds a digest's verdict without a trusted signature and provenance is reused",
    minimum=0,
)
SIGSTORE_TRUSTED_ROOT = env.string(
    "SIGSTORE_TRUSTED_ROOT",
    "",
    "a Sigstore trusted_root.json keyless signatures are verified against, offline",
)
