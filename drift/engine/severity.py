"""Severity levels, lowest first; comparisons go through `rank`."""

from __future__ import annotations

LEVELS: tuple[str, ...] = ("info", "low", "medium", "high", "critical")
_RANK = {level: index for index, level in enumerate(LEVELS)}


def rank(level: str) -> int:
    """0 for info up to 4 for critical; ValueError for anything else."""
    try:
        return _RANK[level]
    except KeyError:
        raise ValueError(
            f"unknown severity {level!r}; expected one of {', '.join(LEVELS)}"
        ) from None


def at_most(level: str, threshold: str) -> bool:
    """True when ``level`` is no more severe than ``threshold`` ("none" allows nothing)."""
    return threshold != "none" and rank(level) <= rank(threshold)
