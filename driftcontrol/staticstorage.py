"""Static files as production serves them: hashed names (cached for a year), compressed."""

from __future__ import annotations

from typing import Any

from whitenoise.storage import CompressedManifestStaticFilesStorage  # type: ignore[import-untyped]


class CollectedStaticFiles(CompressedManifestStaticFilesStorage):  # type: ignore[misc]
    """Hashed names even with DEBUG on: Django's storage hands out plain names in DEBUG,
    which WhiteNoise then serves with max-age=0, and `make demo` runs with DEBUG on while
    serving collected files (STATIC_MANIFEST) to show the product's real cold load."""

    def url(self, name: Any, force: bool = False) -> str:
        return str(super().url(name, force=True))
