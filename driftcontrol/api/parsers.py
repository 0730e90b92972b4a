"""The API's JSON parser: DRF's, refusing bodies nested too deeply to be data.

Nothing the API accepts nests more than a handful of levels, yet Python's decoder
recurses once per level: 100,000 nested arrays end in RecursionError (a 500 before this
parser), and a body just under the recursion limit would make every later step that
walks it (validation, the idempotency hash, the audit) recurse as deep. The body's size
is bounded before parsing, by Django's DATA_UPLOAD_MAX_MEMORY_SIZE (see
driftcontrol.settings.api); the exception handler answers it with 413.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO, Any

from rest_framework import parsers
from rest_framework.exceptions import ValidationError

from driftcontrol.api import strict

MAX_DEPTH = 64


def _too_deep() -> ValidationError:
    return ValidationError(
        {"non_field_errors": [f"the JSON body nests arrays and objects more than {MAX_DEPTH} deep"]}
    )


def depth_exceeds(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether ``value`` nests lists and dicts more than ``limit`` levels (iteratively:
    the check must not recurse itself)."""
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, Mapping):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        pending.extend((child, depth + 1) for child in children)
    return False


class JSONParser(parsers.JSONParser):
    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise _too_deep() from None
        if depth_exceeds(data):
            raise _too_deep()
        return data


# What this parser reads, the serializers take as its JSON types only (see strict.py).
# Installed here because every API view loads this module (DEFAULT_PARSER_CLASSES).
strict.install()
