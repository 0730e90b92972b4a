"""Lane documents: the namespaces, deployers and Git branches a lane of change owns."""

from __future__ import annotations

from pathlib import Path

from drift.declarative.reading import Planned, Reader


def read(reader: Reader, name: str, base: Path | None) -> Planned:
    reader.known(["namespaces", "identities", "branches", "description"])
    return Planned(
        "Lane",
        name,
        {
            "namespaces": reader.strings("namespaces"),
            "identities": reader.strings("identities"),
            "branches": reader.strings("branches"),
            "description": reader.get("description", str, ""),
        },
    )
