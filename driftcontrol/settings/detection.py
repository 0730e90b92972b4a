"""Drift detection and remediation."""

from __future__ import annotations

from pathlib import Path

from driftcontrol import env

# --- Drift detection --------------------------------------------------------------------

GIT_TIMEOUT_SECONDS = env.integer(
    "GIT_TIMEOUT_SECONDS", 120, "longest a git fetch or kustomize build may take", minimum=5
)
DRIFTCONTROL_KUSTOMIZE = env.string(
    "DRIFTCONTROL_KUSTOMIZE", "", "path to kustomize (or kubectl) for kustomizations"
)
DRIFTCONTROL_CACHE = Path(
    env.string(
        "DRIFTCONTROL_CACHE",
        str(Path.home() / ".cache" / "driftcontrol"),
        "where slow builds are cached (the local API server)",
    )
)
# The local API server's build brings a kubectl with `kubectl kustomize`.
KUSTOMIZE_CANDIDATES = [DRIFTCONTROL_CACHE / "kubernetes-1.20.2" / "bin" / "kubectl"]

OUTBOX_RETENTION_DAYS = env.integer(
    "OUTBOX_RETENTION_DAYS",
    30,
    "days dispatched events and their webhook logs are kept",
    minimum=1,
)

# --- Remediation ------------------------------------------------------------------------

REMEDIATION_LEASE_SECONDS = env.integer(
    "REMEDIATION_LEASE_SECONDS",
    60,
    "how long a silent worker keeps a remediation before another resumes it",
    minimum=1,
)
REMEDIATION_PAUSE_SECONDS = float(
    env.integer("REMEDIATION_PAUSE_SECONDS", 0, "seconds between objects of one remediation", 0)
)
# A controller that fights the change (an operator owning the field) reverts it within
# seconds: verification watches the objects this long before it calls them verified.
REMEDIATION_VERIFY_SECONDS = float(
    env.integer("REMEDIATION_VERIFY_SECONDS", 5, "seconds a result must hold to verify", 0)
)
