"""Break-glass: a change the admission webhook let through although it breaks the lane's
terms (most often, a change by hand to an object Git manages), because its author is in
one of the lane's break-glass groups.

Admission raises it (alignment.admission.decide), never a scan: nothing in the object
says how it was changed, so the check finds nothing. Not local either: the watcher, which
resolves a local rule's findings when an object no longer breaks it, must leave these
open until someone has reviewed the change.
"""

from __future__ import annotations

from collections.abc import Iterator

from alignment.rules.base import Objects, Reach, Violation, rule


@rule(
    "lane.break-glass",
    "high",
    "Break-glass changes are reviewed",
    """Someone in one of the lane's break-glass groups changed this object although the
    lane's admission webhook would have refused (or warned about) the change: most often a
    change by hand to an object Git manages, in an emergency. It was allowed and recorded
    with its author. Review it with them: put the change in Git so that the lane's
    deployer applies it, or revert it with a sync.""",
)
def break_glass(objects: Objects, reach: Reach) -> Iterator[Violation]:
    return iter(())
