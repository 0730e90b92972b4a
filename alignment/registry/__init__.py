"""The door to OCI registries: the only package that talks to one (and imports requests).

Read-only, as supply checks need it: tags resolved to digests, manifests, blobs and
referrers read, and `Registry.artifacts` gathers what a registry holds about one image
digest for the verifier (`alignment.supply.verify`). Transient failures (connection
errors, 5xx, 429) are retried with backoff; what remains raises a `RegistryError`
subclass naming the host, repository, reference and status.

The submodules: `transport` (TLS, authentication, retries, limits; the one importing
requests), `errors`, and `reading` (the API, digest checks).
"""

from alignment.registry.errors import NotFound, RegistryError, Unreachable
from alignment.registry.reading import (
    ACCEPT,
    BUNDLE_TYPE,
    OCI_INDEX,
    OCI_MANIFEST,
    Registry,
    digest_of,
    is_digest,
)
from alignment.registry.transport import Access

__all__ = [
    "ACCEPT",
    "BUNDLE_TYPE",
    "OCI_INDEX",
    "OCI_MANIFEST",
    "Access",
    "NotFound",
    "Registry",
    "RegistryError",
    "Unreachable",
    "digest_of",
    "is_digest",
]
