"""Static files that come inside Python packages, served by the app itself (no CDN)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import plotly
from django.contrib.staticfiles.finders import BaseFinder
from django.core.files.storage import FileSystemStorage

# Only the one file the dashboard needs, not the package's datasets and widget bundles.
VENDORED = {
    "vendor/plotly/plotly.min.js": Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
}


class VendoredFinder(BaseFinder):
    def check(self, **kwargs: Any) -> list[Any]:
        return []

    def find(self, path: str, find_all: bool = False, **kwargs: Any) -> Any:
        found = VENDORED.get(path)
        if found is None:
            return [] if find_all else None
        return [str(found)] if find_all else str(found)

    def list(self, ignore_patterns: Any) -> Iterator[tuple[str, FileSystemStorage]]:
        for path, source in VENDORED.items():
            storage = FileSystemStorage(location=str(source.parent))
            storage.prefix = str(Path(path).parent)  # type: ignore[attr-defined]
            yield source.name, storage
