"""GitSource documents: where a policy's desired state is read from, and the push hook's
shared secret."""

from __future__ import annotations

from pathlib import Path

from drift.declarative.reading import Planned, Reader


def read(reader: Reader, name: str, base: Path | None) -> Planned:
    reader.known(["url", "ref", "path", "hookSecret"])
    url = reader.get("url", str, "")
    if not url:
        reader.problem("spec.url", "is required: a clone URL or a local repository path")
    secret = reader.get("hookSecret", str, None)
    return Planned(
        "GitSource",
        name,
        {
            "url": url,
            "ref": reader.get("ref", str, "main") or "main",
            "path": str(reader.get("path", str, "")).strip("/"),
        },
        hook_secret=secret,
    )
