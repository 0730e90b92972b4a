"""The door to Kubernetes: the only package that imports the kubernetes client.

Requests go out raw and come back as plain dicts (`transport` says why). Transient
failures (timeouts, 429, 5xx) are retried with backoff; permanent ones raise a `KubeError`
subclass that says what was refused and why.

Callers use what this package exports (`from drift import kube`, then `kube.Kube(...)`);
the submodules are split by concept: `kubeconfig` (what a kubeconfig may ask of this
server: data, never code; files only under a configured root), `plugins` (allowlisted
credential plugins, run here rather than by the client), `transport` (requests, retries),
`errors`, `discovery`, `reading` (paged lists, gets), `watching`, `writing`, `admission`
(the admission webhook's configuration and namespace labels), and `connection`, which puts
them together as `Kube`.
"""

from drift.kube.connection import Kube
from drift.kube.discovery import Discovery, Resource
from drift.kube.errors import (
    TRANSIENT_STATUSES,
    BadKubeconfig,
    Conflict,
    Forbidden,
    Gone,
    KubeError,
    NotFound,
    Refused,
    Unreachable,
)
from drift.kube.kubeconfig import CredentialPolicy
from drift.kube.reading import Page
from drift.kube.transport import check_kubeconfig, inspect_kubeconfig
from drift.kube.watching import WatchStream

__all__ = [
    "TRANSIENT_STATUSES",
    "BadKubeconfig",
    "Conflict",
    "CredentialPolicy",
    "Discovery",
    "Forbidden",
    "Gone",
    "Kube",
    "KubeError",
    "NotFound",
    "Page",
    "Refused",
    "Resource",
    "Unreachable",
    "WatchStream",
    "check_kubeconfig",
    "inspect_kubeconfig",
]
