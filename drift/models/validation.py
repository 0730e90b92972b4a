from __future__ import annotations

from django.core.exceptions import ValidationError

from drift.engine.rules import Problem


def raise_problems(problems: dict[str, list[Problem]]) -> None:
    """Turn rule problems into a ValidationError keyed by model field, naming each path."""
    errors = {field: [str(p) for p in found] for field, found in problems.items() if found}
    if errors:
        raise ValidationError(errors)
