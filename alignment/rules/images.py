"""The images a workload runs, and what the registry said about each: the facts the
`supply.*` rules judge. The registry is read by the scan (alignment.supply_chain), never
here; an image the scan did not look at has no check, and the rules that need one stay
silent about it."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from alignment.rules import pods
from alignment.supply.verdict import Evidence
from drift.engine.normalize import ObjectKey

DIGEST_MARK = "@sha256:"


@dataclass(frozen=True, slots=True)
class ImageCheck:
    """One image as a lane's trust configuration judged it."""

    image: str  # as the pod spec writes it
    digest: str = ""  # what it resolves to ("" when the registry was not asked or failed)
    unverifiable: str = ""  # why the registry could not answer ("" when it did)
    evidence: Evidence | None = None  # its signatures and attestations, when looked at


@dataclass(frozen=True, slots=True)
class Container:
    """One container of a workload's pod template, and where its image is written."""

    name: str
    image: str
    path: str  # JSON pointer of the image field

    @property
    def pinned(self) -> bool:
        return DIGEST_MARK in self.image


def containers(key: ObjectKey, obj: Mapping[str, Any]) -> Iterator[Container]:
    """The containers of a workload judged on its own template (not a controller's copy);
    walked once per evaluation, however many rules ask."""
    return pods.walked("containers", _containers, key, obj)


def _containers(key: ObjectKey, obj: Mapping[str, Any]) -> Iterator[Container]:
    found = pods.template(key, obj)
    if found is None or pods.judged_on_its_owner(obj):
        return
    pointer, template = found
    spec = template.get("spec") or {}
    for group in pods.CONTAINER_LISTS:
        for index, container in enumerate(spec.get(group) or []):
            if isinstance(container, Mapping) and container.get("image"):
                path = f"{pointer}/spec/{group}/{index}/image"
                yield Container(str(container.get("name", "")), str(container["image"]), path)


def images(objects: Mapping[ObjectKey, Mapping[str, Any]]) -> set[str]:
    """Every distinct image the objects' pod templates name."""
    return {c.image for key, obj in objects.items() for c in containers(key, obj)}
