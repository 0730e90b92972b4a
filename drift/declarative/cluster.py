"""Cluster documents: a kubeconfig (a path or the content; stored sealed, never exported),
its context, the cluster's labels and lanes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from drift import kube, kubeconfigs
from drift.declarative.reading import Planned, Reader
from drift.models import Cluster


def read(reader: Reader, name: str, base: Path | None) -> Planned:
    reader.known(["kubeconfig", "context", "lanes", "enabled"])
    labels = _labels(reader)
    context = reader.get("context", str, "")
    given = reader.get("kubeconfig", str, None)
    credentials = _credentials(reader, name, given, base)
    server = _api_server(reader, credentials, context, given is not None)
    values: dict[str, Any] = {
        "labels": labels,
        "context": context,
        "enabled": reader.get("enabled", bool, True),
    }
    if server:
        values["api_server_url"] = server
    return Planned(
        "Cluster",
        name,
        values,
        lanes=reader.strings("lanes"),
        credentials=credentials if given is not None else None,
        credentials_given=given is not None,
    )


def _labels(reader: Reader) -> dict[str, str]:
    labels = (reader.doc.get("metadata") or {}).get("labels") or {}
    if not isinstance(labels, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in labels.items()
    ):
        reader.problem("metadata.labels", "must map label names to strings")
        return {}
    return labels


def _credentials(reader: Reader, name: str, given: str | None, base: Path | None) -> str | None:
    """The kubeconfig given, or else the one stored for the cluster."""
    if given is not None:
        return _kubeconfig_content(reader, given, base)
    # A changed context must still work with the kubeconfig stored before.
    stored = Cluster.objects.filter(name=name).first()
    if stored is not None and stored.has_credentials:
        return stored.read_credentials()
    return None


def _kubeconfig_content(reader: Reader, given: str, base: Path | None) -> str | None:
    """`spec.kubeconfig` is the kubeconfig itself (several lines) or a path to one."""
    if "\n" in given.strip():
        return given
    path = Path(given).expanduser()
    if not path.is_absolute() and base is not None:
        path = base / path
    try:
        return path.read_text()
    except OSError as error:
        reader.problem("spec.kubeconfig", f"cannot read {path}: {error.strerror}")
        return None


def _api_server(reader: Reader, credentials: str | None, context: str, given: bool) -> str:
    """The API server the kubeconfig's context points at ("" when there is none to read).
    The kubeconfig is inspected, not used: no credential plugin runs, nothing is sent."""
    if credentials is None:
        return ""
    try:
        kubeconfigs.inspect_kubeconfig(credentials)
    except kube.BadKubeconfig as error:
        # A stored kubeconfig may predate the server's refusal of what it asks for.
        stored = "" if given else "the stored kubeconfig: "
        for problem in error.problems:
            reader.problem("spec.kubeconfig", stored + problem)
        return ""
    try:
        return kubeconfigs.check_kubeconfig(credentials, context or None)
    except kube.BadKubeconfig as error:
        for problem in error.problems:
            reader.problem("spec.kubeconfig" if given else "spec.context", problem)
        return ""
