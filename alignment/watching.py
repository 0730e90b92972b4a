"""The alignment rules in the watcher: the rules that judge one object alone (lane
separation, deployer identity), evaluated on the object an event names.

drift.services.watching finds this module by name (driftcontrol.extensions); it calls
`judge` a moment after each event, so that the audit feed's batch naming who made the
change has arrived.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from alignment import audit_feed, rules, scanning, supply_chain
from drift.engine.normalize import ObjectKey
from drift.engine.policy import EnginePolicy
from drift.models import Cluster
from drift.services.ledger import Observation


def local_rules() -> frozenset[str]:
    return frozenset(rule.id for rule in rules.RULES.values() if rule.local)


def judge(
    cluster: Cluster,
    key: ObjectKey,
    obj: dict[str, Any] | None,
    policy: EnginePolicy,
    plural: str,
    source: str = "",
    git_url: str = "",
) -> tuple[list[Observation], frozenset[str]]:
    """The local rules' violations by the object as it is now (None: it is gone), and
    the rules judged: their findings on it that were not seen again resolve. Its images
    are looked up in their registries (``git_url``: where the lane's images must be
    built from, unless the lane names its own repositories)."""
    judged = local_rules()
    lanes, every_lane = scanning.lanes_of(cluster)
    if obj is None or not lanes:
        return [], judged
    circumstances = rules.Circumstances(
        now=timezone.now(),
        writes=audit_feed.writes(
            cluster, [key], lambda group, kind: plural or audit_feed.guess_plural(kind)
        ),
        trusted=audit_feed.trusted_identities(),
        images=supply_chain.checks({key: obj}, lanes),
        sources=(git_url,) if git_url else (),
    )
    found = rules.evaluate(
        {key: obj},
        lambda group, kind: (group, kind) == (key.group, key.kind),
        lanes,
        every_lane=every_lane,
        circumstances=circumstances,
        only=lambda rule: rule.local,
    )
    return [scanning.observation(v, source, policy) for v in found], judged
