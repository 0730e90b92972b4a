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

# What Git content may make a scan hold (issue 12: a repository is input an attacker may
# write). Parsing runs at about 2.5 MB/s into about 8 times its size in Python objects.
# One Kubernetes object cannot pass etcd's 1.5 MiB, but one file may bundle many (a CRD
# bundle such as prometheus-operator's is several MB): 8 MiB parses in ~3 s into ~70 MB.
GIT_MAX_FILE_BYTES = env.integer(
    "GIT_MAX_FILE_BYTES", 8 << 20, "largest manifest file a scan reads", minimum=1024
)
# All the manifests below one source's path (and the tree written out for kustomize):
# 64 MiB is some 20,000 ordinary objects, and parses in ~30 s into ~550 MB. Larger needs
# more memory per worker than the defaults give: raise it with the worker's memory.
GIT_MAX_SOURCE_BYTES = env.integer(
    "GIT_MAX_SOURCE_BYTES",
    64 << 20,
    "most manifest bytes one source may hold (and its kustomize export)",
    minimum=1024,
)
# See drift.engine.bounds: what YAML aliases may add to a source's documents, expanded.
YAML_MAX_ALIAS_BYTES = env.integer(
    "YAML_MAX_ALIAS_BYTES",
    4 << 20,
    "how much YAML aliases may add to a source's documents once expanded",
    minimum=0,
)
# A finding keeps its drift (values, patch) up to this size, and beyond it a truncated
# view with the full size and digest: a finding page must stay quick to render.
FINDING_MAX_DIFF_BYTES = env.integer(
    "FINDING_MAX_DIFF_BYTES",
    256 << 10,
    "largest drift a finding stores in full; beyond it, a truncated view and a digest",
    minimum=4096,
)

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
