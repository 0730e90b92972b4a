"""Every distinct image the fleet runs (alignment.ImageUse, as the last scan of each
policy on each cluster saw it), worst state first, with where it runs, who signed it and
what it was built from: what the Images page and /api/v1/images/ list, through
`matching_uses`, `grouped` and `fleet_images`, so the two cannot disagree.

Every filter narrows the uses (the containers running an image); an image is listed when
a use is left, and its state is the worst of the uses left.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import (
    Case,
    CharField,
    Count,
    F,
    IntegerField,
    Max,
    Min,
    Q,
    QuerySet,
    Value,
    When,
    Window,
)
from django.db.models.functions import Cast, Concat, RowNumber

from alignment.image_uses import STATES
from alignment.models import ImageUse

# What each state says, in words: the page's badges and the API's documentation.
STATE_WORDS = {
    "invalid-signature": "Invalid signature",
    "source-mismatch": "Built from another repository",
    "untrusted-signer": "Signed by an unknown signer",
    "unsigned": "Unsigned",
    "builder": "Built by a builder the lane does not allow",
    "no-provenance": "No provenance",
    "unverifiable": "Could not be verified",
    "digest": "Not pinned by digest",
    "verified": "Verified",
    "no-requirement": "Its lane requires nothing",
}
# An image like nginx may run in thousands of containers: a page shows the worst of them
# and counts the rest, so one image cannot make the page (or a response) unbounded.
USES_SHOWN = 100
MAX_SEARCH = 200

_RANK = Case(
    *(When(state=state, then=Value(rank)) for rank, state in enumerate(STATES)),
    default=Value(len(STATES)),
    output_field=IntegerField(),
)
# A workload is one object on one cluster; several containers of it count once.
_WORKLOAD = Concat(
    Cast("cluster_id", CharField()),
    Value("/"),
    "namespace",
    Value("/"),
    "kind",
    Value("/"),
    "name",
    output_field=CharField(),
)


@dataclass
class FleetImage:
    """One image as written and the digest it runs as, and where it runs."""

    image: str
    digest: str
    state: str
    use_count: int
    workload_count: int
    cluster_count: int
    seen_at: datetime
    uses: list[ImageUse] = field(default_factory=list)  # the worst first
    clusters: list[str] = field(default_factory=list)
    lanes: list[str] = field(default_factory=list)

    @property
    def detail(self) -> dict[str, Any]:
        """The worst use's verdict: who signed it, what built it, from which commit."""
        return self.uses[0].detail if self.uses else {}

    @property
    def words(self) -> str:
        return STATE_WORDS.get(self.state, self.state)

    @property
    def short_digest(self) -> str:
        return _shortened(self.digest)

    @property
    def short_image(self) -> str:
        """The reference with its digest shortened, if it is pinned by one."""
        name, at, digest = self.image.partition("@")
        return f"{name}@{_shortened(digest)}…" if at else self.image

    @property
    def more_uses(self) -> int:
        return self.use_count - len(self.uses)


def _shortened(digest: str) -> str:
    algorithm, _, hexdigest = digest.partition(":")
    return f"{algorithm}:{hexdigest[:12]}" if hexdigest else digest


def matching_uses(
    lane: str = "", cluster: str = "", state: str = "", q: str = ""
) -> QuerySet[ImageUse]:
    """The uses left by the filters (empty ones filter nothing)."""
    uses = ImageUse.objects.all()
    if lane:
        uses = uses.filter(lane=lane)
    if cluster:
        uses = uses.filter(cluster__name=cluster)
    if state:
        uses = uses.filter(state=state)
    if q:
        uses = uses.filter(image__icontains=q)
    return uses


def grouped(uses: QuerySet[ImageUse]) -> QuerySet[Any]:
    """One row per image and digest, counted in the database, worst state first."""
    return (
        uses.order_by()
        .values("image", "digest")
        .annotate(
            rank=Min(_RANK),
            use_count=Count("pk"),
            workload_count=Count(_WORKLOAD, distinct=True),
            cluster_count=Count("cluster", distinct=True),
            seen_at=Max("seen_at"),
        )
        .order_by("rank", "image", "digest")
    )


def fleet_images(uses: QuerySet[ImageUse], rows: list[dict[str, Any]]) -> list[FleetImage]:
    """``rows`` of `grouped` (one page) with their uses, clusters and lanes: two queries
    however many rows and uses there are."""
    images = {
        (row["image"], row["digest"]): FleetImage(
            image=row["image"],
            digest=row["digest"],
            state=STATES[row["rank"]] if row["rank"] < len(STATES) else "unknown",
            use_count=row["use_count"],
            workload_count=row["workload_count"],
            cluster_count=row["cluster_count"],
            seen_at=row["seen_at"],
        )
        for row in rows
    }
    if not images:
        return []
    these = Q()
    for image, digest in images:
        these |= Q(image=image, digest=digest)
    uses = uses.filter(these).order_by()
    for use in _worst_uses(uses):
        images[use.image, use.digest].uses.append(use)
    for image, digest, cluster, lane in uses.values_list(
        "image", "digest", "cluster__name", "lane"
    ).distinct():
        found = images[image, digest]
        if cluster not in found.clusters:
            found.clusters.append(cluster)
        if lane and lane not in found.lanes:
            found.lanes.append(lane)
    for found in images.values():
        found.clusters.sort()
        found.lanes.sort()
    return list(images.values())


def _worst_uses(uses: QuerySet[ImageUse]) -> QuerySet[ImageUse]:
    """At most USES_SHOWN uses of each image, the worst first, then by place."""
    place = ("cluster__name", "namespace", "kind", "name", "container")
    return (
        uses.select_related("cluster", "policy")
        .annotate(
            rank=_RANK,
            nth=Window(
                RowNumber(),
                partition_by=[F("image"), F("digest")],
                order_by=[_RANK.asc(), *(F(p).asc() for p in place)],
            ),
        )
        .filter(nth__lte=USES_SHOWN)
        .order_by("rank", *place)
    )
