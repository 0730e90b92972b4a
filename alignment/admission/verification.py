"""Verifying, in a worker, the images the webhook let through unverified: as a scan would
(alignment.supply_chain, the registries read through its Lookup), storing each verdict
(alignment.ImageVerification) where the webhook's next refresh finds it. The webhook
itself never waits for a registry.

A tag's verdict is stored under the digest it resolves to now; the webhook matches it
to the tag once a scan has recorded which digest the cluster runs (alignment.ImageUse).
"""

from __future__ import annotations

from collections.abc import Iterable

from alignment import scanning, supply_chain
from alignment.rules.supply import requires_evidence
from drift.models import Cluster

# Images verified per task at most: the recorder sends a lane's images in one task.
MAX_IMAGES = 50


def verify_images(cluster_id: int, lane: str, images: Iterable[str]) -> int:
    """Verify the images for the lane as it is now on the cluster; how many have a
    verdict now. Nothing when the cluster is gone, the lane is no longer its, or the lane
    wants no evidence any more (the task is safe to run late, or twice)."""
    cluster = Cluster.objects.filter(pk=cluster_id).first()
    if cluster is None:
        return 0
    lanes, _ = scanning.lanes_of(cluster)
    spec = next((found for found in lanes if found.name == lane), None)
    if spec is None or not requires_evidence(spec):
        return 0
    lookup = supply_chain.Lookup()
    try:
        checks = [supply_chain.check(image, spec, lookup) for image in list(images)[:MAX_IMAGES]]
    finally:
        lookup.close()
    return sum(1 for check in checks if check.evidence is not None)
