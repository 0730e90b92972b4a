"""What a registry refused or could not answer, as `RegistryError` subclasses by cause.

Callers tell "the registry says there is nothing" (`NotFound`) from "the registry could not
be read" (`Unreachable`, any other `RegistryError`): only the first may ever mean unsigned.
"""

from __future__ import annotations


class RegistryError(Exception):
    """A registry refused a request or answered with something unusable; the message names
    the host, repository, reference and HTTP status."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class Unreachable(RegistryError):
    """No usable answer after retries: connection refused, timeout, TLS, or 5xx/429."""


class NotFound(RegistryError):
    """404: no such repository, manifest, tag or blob."""
