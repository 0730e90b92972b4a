"""Reading manifests: YAML streams and JSON files into documents, with file and line.

A file that does not parse yields an error and no documents at all: after a syntax error
nothing in the file can be trusted, and an object we cannot see must not be reported
missing or unmanaged. The same holds for a document refused for its size once YAML aliases
are expanded, or for nesting too deep (drift.engine.bounds).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import yaml

from drift.engine.bounds import (
    DEFAULT_ALIAS_BYTES,
    MAX_DEPTH,
    AliasBudget,
    TooLarge,
    depth_of,
    measure,
)

try:  # libyaml is several times faster; the pure-Python loader gives the same results
    _Loader: type[yaml.SafeLoader] = yaml.CSafeLoader  # type: ignore[assignment,unused-ignore]
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _Loader = yaml.SafeLoader


@dataclass(frozen=True, slots=True)
class Document:
    file: str
    line: int  # 1-based line where the document starts
    obj: dict[str, Any]

    @property
    def source(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True, slots=True)
class LoadError:
    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.message}"


def parse(
    text: str | bytes, file: str, budget: AliasBudget | None = None
) -> tuple[list[Document], list[LoadError]]:
    """Every object in a YAML stream or JSON file; Lists are unpacked, empty documents skipped.

    ``budget`` is what YAML aliases may still add (shared by the files of one source);
    without one, this file gets the default on its own.
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as error:
            return [], [LoadError(file, None, f"not UTF-8 text ({error.reason})")]
    if file.endswith(".json"):
        return _json(text, file)
    budget = budget or AliasBudget(DEFAULT_ALIAS_BYTES)
    used = budget.used
    documents, errors = _yaml(text, file, budget)
    if errors:
        budget.used = used  # nothing of the file is kept, so its aliases cost nothing
    return documents, errors


def _json(text: str, file: str) -> tuple[list[Document], list[LoadError]]:
    too_deep = [LoadError(file, None, f"the document nests deeper than {MAX_DEPTH} levels")]
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        return [], [LoadError(file, error.lineno, f"invalid JSON: {error.msg}")]
    except RecursionError:  # nested past what the decoder follows, far past MAX_DEPTH
        return [], too_deep
    if depth_of(value) > MAX_DEPTH:
        return [], too_deep
    return _objects(value, file, 1)


def _yaml(text: str, file: str, budget: AliasBudget) -> tuple[list[Document], list[LoadError]]:
    documents: list[Document] = []
    errors: list[LoadError] = []
    loader = _Loader(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            line = node.start_mark.line + 1
            try:
                budget.charge(measure(node).added)
            except TooLarge as error:
                return [], [LoadError(file, line, str(error))]
            value = loader.construct_document(node)
            found, problems = _objects(value, file, line)
            documents += found
            errors += problems
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else None
        reason = error.problem or error.context or "invalid YAML"
        return [], [LoadError(file, line, f"invalid YAML: {reason}")]
    except yaml.YAMLError as error:
        return [], [LoadError(file, None, f"invalid YAML: {error}")]
    except RecursionError:  # only the pure-Python loader recurses as it composes
        return [], [LoadError(file, None, f"the document nests deeper than {MAX_DEPTH} levels")]
    finally:
        loader.dispose()
    if errors:
        return [], errors
    return documents, []


def _objects(value: Any, file: str, line: int) -> tuple[list[Document], list[LoadError]]:
    if value is None:
        return [], []
    if not isinstance(value, dict):
        return [], [
            LoadError(
                file,
                line,
                f"expected a Kubernetes object (a mapping), found {type(value).__name__}",
            )
        ]
    if str(value.get("kind", "")).endswith("List") and isinstance(value.get("items"), list):
        found: list[Document] = []
        problems: list[LoadError] = []
        for item in value["items"]:
            more, issues = _objects(item, file, line)
            found += more
            problems += issues
        return found, problems
    problem = _shape_problem(value)
    if problem:
        return [], [LoadError(file, line, problem)]
    return [Document(file, line, value)], []


def _shape_problem(obj: dict[str, Any]) -> str | None:
    for field in ("apiVersion", "kind"):
        if not isinstance(obj.get(field), str) or not obj[field]:
            return f"the object has no {field}"
    metadata = obj.get("metadata")
    if (
        not isinstance(metadata, dict)
        or not isinstance(metadata.get("name"), str)
        or not metadata["name"]
    ):
        return f"the {obj['kind']} has no metadata.name"
    namespace = metadata.get("namespace")
    if namespace is not None and not isinstance(namespace, str):
        return f"the {obj['kind']} {metadata['name']} has a metadata.namespace that is not text"
    return None
