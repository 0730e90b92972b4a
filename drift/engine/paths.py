"""JSON pointers (RFC 6901) and the path patterns used by ignore and severity rules.

A pattern is a JSON pointer whose segments may be `*` (any one key or list index) or `**`
(any number of segments). A pattern matches a path when it matches the path or one of
its ancestors: ignoring `/metadata/labels` ignores every label.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

Segment = str | int
Path = tuple[Segment, ...]


def escape(segment: Segment) -> str:
    return str(segment).replace("~", "~0").replace("/", "~1")


def unescape(segment: str) -> str:
    return segment.replace("~1", "/").replace("~0", "~")


def pointer(path: Iterable[Segment]) -> str:
    return "".join("/" + escape(segment) for segment in path)


def split(text: str) -> tuple[str, ...]:
    """Segments of a pointer or pattern; "" is the whole document."""
    if text == "":
        return ()
    return tuple(unescape(part) for part in text.split("/")[1:])


@dataclass
class _Node:
    children: dict[str, _Node] = field(default_factory=dict)
    star: _Node | None = None
    globstar: _Node | None = None
    terminal: bool = False
    loop: bool = False  # the node after a `**`: it may swallow any number of segments


@dataclass
class PatternSet:
    """A compiled set of patterns, matched segment by segment without backtracking blowups."""

    root: _Node = field(default_factory=_Node)
    empty: bool = True
    sources: list[tuple[str, ...]] = field(default_factory=list)

    @classmethod
    def of(cls, patterns: Iterable[str]) -> PatternSet:
        compiled = cls()
        for text in patterns:
            compiled.add(split(text))
        return compiled

    def add(self, segments: Sequence[str]) -> None:
        self.sources.append(tuple(segments))
        node = self.root
        for segment in segments:
            if segment == "**":
                node.globstar = node.globstar or _Node(loop=True)
                node = node.globstar
            elif segment == "*":
                node.star = node.star or _Node()
                node = node.star
            else:
                node = node.children.setdefault(segment, _Node())
        node.terminal = True
        self.empty = False

    def matches(self, path: Iterable[Segment]) -> bool:
        """True when some pattern matches ``path`` or one of its ancestors."""
        if self.empty:
            return False
        states: States = self.start()
        for segment in path:
            if states is MATCHED:
                return True
            states = step(states, segment)
            if not states:
                return False
        return states is MATCHED

    def start(self) -> States:
        """Matching state at the document root, advanced one segment at a time by `step`."""
        return _settle(_closure([self.root]))


# Walking a document tree, the diff carries these states down instead of re-matching the
# whole path at every field: MATCHED (ignore this subtree), an empty list (nothing can
# match below), or the pattern nodes still in play.
States = list[_Node]
MATCHED: States = [_Node(terminal=True)]


def step(states: States, segment: Segment) -> States:
    if states is MATCHED:
        return MATCHED
    key = str(segment)
    following: list[_Node] = []
    for node in states:
        child = node.children.get(key)
        if child is not None:
            following.append(child)
        if node.star is not None:
            following.append(node.star)
        if node.loop:
            following.append(node)
    return _settle(_closure(following)) if following else following


def _settle(nodes: list[_Node]) -> States:
    return MATCHED if any(node.terminal for node in nodes) else nodes


def _closure(nodes: list[_Node]) -> list[_Node]:
    """Add the nodes reachable by letting a `**` match zero segments."""
    result = list(nodes)
    for node in nodes:
        following = node.globstar
        while following is not None:
            result.append(following)
            following = following.globstar
    return result
