"""What installing an admission webhook asks of a cluster: its ValidatingWebhookConfiguration
(written, read back, removed) and the namespace labels its namespaceSelector matches.

Each failure is the `KubeError` subclass the transport raised, its message saying first
what was being done to which object, then the API server's answer.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

from drift.kube.errors import BadKubeconfig, KubeError, NotFound
from drift.kube.transport import Transport

CONFIGURATIONS = "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations"
NAMESPACES = "/api/v1/namespaces"


class Admission(Transport):
    """The admission part of `Kube`."""

    def apply_webhook_configuration(
        self, configuration: dict[str, Any], field_manager: str
    ) -> dict[str, Any]:
        """Server-side apply of a whole ValidatingWebhookConfiguration, taking over any
        field another manager set (`force`): the configuration is DriftControl's alone,
        and an identical apply changes nothing, not even its resourceVersion."""
        name = configuration["metadata"]["name"]
        query = [("fieldManager", field_manager), ("force", "true")]
        with _saying(f"writing ValidatingWebhookConfiguration {name}"):
            written: dict[str, Any] = self._json(
                "PATCH",
                f"{CONFIGURATIONS}/{quote(name, safe='')}",
                query,
                configuration,
                "application/apply-patch+yaml",
            )
        return written

    def webhook_configuration(self, name: str) -> dict[str, Any] | None:
        """The ValidatingWebhookConfiguration named so; None when there is none."""
        with _saying(f"reading ValidatingWebhookConfiguration {name}"):
            try:
                found: dict[str, Any] = self._json(
                    "GET", f"{CONFIGURATIONS}/{quote(name, safe='')}"
                )
            except NotFound:
                return None
        return found

    def delete_webhook_configuration(self, name: str) -> bool:
        """Remove the configuration; False when it was not there (nothing to do)."""
        body = {"kind": "DeleteOptions", "apiVersion": "v1"}
        with _saying(f"deleting ValidatingWebhookConfiguration {name}"):
            try:
                self._json(
                    "DELETE",
                    f"{CONFIGURATIONS}/{quote(name, safe='')}",
                    None,
                    body,
                    "application/json",
                )
            except NotFound:
                return False
        return True

    def namespaces(self, label_selector: str | None = None) -> list[dict[str, Any]]:
        """Every namespace (those the selector matches, if one is given)."""
        query = [("labelSelector", label_selector)] if label_selector else []
        with _saying("listing namespaces"):
            answer = self._json("GET", NAMESPACES, query)
        found: list[dict[str, Any]] = answer.get("items") or []
        return found

    def label_namespace(
        self, name: str, labels: Mapping[str, str | None], field_manager: str
    ) -> dict[str, Any]:
        """Set the labels given a value and remove those given None (a JSON merge patch:
        null removes a key), leaving every other label as it is."""
        patch = {"metadata": {"labels": dict(labels)}}
        query = [("fieldManager", field_manager)]
        with _saying(f"labelling namespace {name}"):
            labelled: dict[str, Any] = self._json(
                "PATCH",
                f"{NAMESPACES}/{quote(name, safe='')}",
                query,
                patch,
                "application/merge-patch+json",
            )
        return labelled


@contextmanager
def _saying(what: str) -> Iterator[None]:
    """Re-raise a refusal as the same kind of error, saying what was asked first."""
    try:
        yield
    except BadKubeconfig:
        raise  # says which kubeconfig field is at fault already
    except KubeError as error:
        raise type(error)(f"{what}: {error}", error.status, error.reason) from None
