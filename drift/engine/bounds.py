"""Bounds on what a manifest may make us hold: alias expansion and nesting depth.

PyYAML shares an aliased node's object instead of copying it, so a "billion laughs" file
(nine levels of nine aliases) loads in a blink and a few kilobytes. The blow-up comes later,
when the engine walks, copies or serialises the objects as if each alias were spelled out.
So the composed node graph is measured before anything is constructed: the size of each
document with every alias expanded, against the part the file spells out itself. The
difference is what aliases add, and a source may add only so much.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

# Deeper than any Kubernetes object (the deepest CRD schemas nest about 60 levels), and
# shallow enough that the engine's recursive walks stay far from Python's recursion limit.
MAX_DEPTH = 200
# What aliases may add to a source's documents by default (YAML_MAX_ALIAS_BYTES): a
# hundred times the anchors real manifests share (labels, env lists, resource blocks), and
# small enough that even one-byte scalars make at most about a million extra objects.
DEFAULT_ALIAS_BYTES = 4 << 20


class TooLarge(Exception):
    """A document that would be too large (or endless) once its aliases are expanded."""


@dataclass
class AliasBudget:
    """How many bytes YAML aliases may still add to one source's documents.

    One budget is shared by every file of a source: a limit per file alone would let a
    repository of many small alias bombs add up to any size.
    """

    limit: int
    name: str = "the limit on YAML alias expansion"
    used: int = 0

    @property
    def remaining(self) -> int:
        return max(self.limit - self.used, 0)

    def charge(self, added: int) -> None:
        """Take what a document's aliases add, or refuse it (nothing is taken then)."""
        if added > self.remaining:
            left = "" if self.used == 0 else f" ({size_text(self.remaining)} were left)"
            raise TooLarge(
                f"YAML aliases would expand this document by about {size_text(added)}; "
                f"aliases may add at most {size_text(self.limit)} per source "
                f"({self.name}){left}"
            )
        self.used += added


@dataclass(frozen=True)
class Expansion:
    """A document's size as spelled out in the file and with every alias expanded, in
    approximate JSON bytes, and how deep it nests."""

    spelled: int
    expanded: int
    depth: int

    @property
    def added(self) -> int:
        return self.expanded - self.spelled


def measure(root: yaml.Node) -> Expansion:
    """The expansion of a composed document, without constructing (or expanding) anything.

    Each node is visited once and its expanded size remembered, so the work is linear in
    what the file spells out however many times aliases repeat it. A node reached again
    from inside itself is a recursive alias, which no expansion would ever finish.
    """
    sizes: dict[int, tuple[int, int]] = {}  # id(node) -> (expanded size, depth)
    open_nodes: set[int] = set()
    spelled = 0
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        ident = id(node)
        children = _children(node)
        if children_done:
            open_nodes.discard(ident)
            size = _own_size(node) + sum(sizes[id(child)][0] for child in children)
            depth = max((sizes[id(child)][1] for child in children), default=0)
            depth += not isinstance(node, yaml.ScalarNode)  # as JSON nests: collections
            if depth > MAX_DEPTH:
                raise TooLarge(f"the document nests deeper than {MAX_DEPTH} levels")
            sizes[ident] = (size, depth)
            continue
        if ident in sizes:
            continue
        if ident in open_nodes:
            raise TooLarge("a YAML alias refers to a node that contains it (a recursive alias)")
        open_nodes.add(ident)
        spelled += _own_size(node)
        stack.append((node, True))
        stack.extend((child, False) for child in children)
    expanded, depth = sizes[id(root)]
    return Expansion(spelled, expanded, depth)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _own_size(node: yaml.Node) -> int:
    """About what the node adds to its JSON text: quotes and a comma for a scalar, the
    brackets for a collection, and a colon and comma per mapping entry."""
    if isinstance(node, yaml.ScalarNode):
        return len(node.value) + 3
    if isinstance(node, yaml.MappingNode):
        return 2 + 2 * len(node.value)
    return 2


def depth_of(value: Any) -> int:
    """How deep a loaded (JSON) value nests, without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            if depth > MAX_DEPTH:
                break
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return deepest


def size_text(size: int) -> str:
    """Bytes as people read them: '52,428,800 bytes (50.0 MiB)', small sizes plainly."""
    if size < 1024:
        return f"{size} bytes"
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale:
            return f"{size:,} bytes ({size / scale:.1f} {unit})"
    raise AssertionError("unreachable")
