"""Lane separation: a namespace belongs to one lane, and a lane's workloads use only its
own service accounts, Secrets and image registries; a binding in one lane never grants a
subject of another.

The lanes come with the evaluation (the cluster's lanes in a scan; `drift check --lane`
names one for manifests no lane's namespaces claim). An allowance a lane leaves empty
restricts nothing.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from fnmatch import fnmatchcase
from typing import Any

from alignment.rules import pods
from alignment.rules.base import Evidence, LaneSpec, Objects, Reach, Violation, rule
from drift.engine.normalize import ObjectKey

RBAC = "rbac.authorization.k8s.io"


def _lane(reach: Reach, key: ObjectKey) -> LaneSpec | None:
    owners = reach.lanes_of(key.namespace)
    return owners[0] if len(owners) == 1 else None  # two owners: lane.namespace says so


def _matches(name: str, globs: tuple[str, ...]) -> bool:
    return any(fnmatchcase(name, glob) for glob in globs)


@rule(
    "lane.namespace",
    "high",
    "A namespace belongs to one lane",
    """Two lanes claim this namespace, so neither lane's rules can tell whose objects are
    in it. Narrow the lanes' namespace globs until each namespace matches one.""",
)
def namespace(objects: Objects, reach: Reach) -> Iterator[Violation]:
    # Reported on the namespace's first object the evaluation holds, not on the Namespace
    # (which a scan does not read): a finding resolves only where its object was read.
    first: dict[str, ObjectKey] = {}
    for key in sorted(objects):
        first.setdefault(key.namespace, key)
    for name in sorted(reach.namespaces - {""}):
        owners = [lane.name for lane in reach.lanes if lane.owns(name)]
        if len(owners) > 1:
            key = first[name]
            claimed = ObjectKey("", "Namespace", "", name)
            yield Violation(
                "lane.namespace",
                key,
                str(objects[key].get("apiVersion", "")),
                f"namespace {name} (of {key}) is claimed by lanes {', '.join(owners)}",
                (Evidence(claimed, "", f"lanes {', '.join(owners)}"),),
            )


def _other_owner(reach: Reach, lane: LaneSpec, name: str, field: str) -> LaneSpec | None:
    return next(
        (o for o in reach.every_lane if o.name != lane.name and _matches(name, getattr(o, field))),
        None,
    )


def _allowance(
    objects: Objects, reach: Reach, rule_id: str, kind: str, field: str
) -> Iterator[Violation]:
    lanes = (*reach.lanes, *reach.every_lane, *([reach.default_lane] if reach.default_lane else []))
    if not any(getattr(lane, field) for lane in lanes):
        return  # no lane lists any: nothing to break (and no templates to walk)
    for key, obj in reach.judged(objects):
        lane = _lane(reach, key)
        if lane is None or pods.judged_on_its_owner(obj):
            continue
        allowed = getattr(lane, field)
        for reference in _uses(key, obj, kind):
            if allowed and _matches(reference.name, allowed):
                continue  # the lane's own (another lane may list it too: then it is shared)
            other = _other_owner(reach, lane, reference.name, field)
            if other is None and not allowed:
                continue
            why = (
                f"which belongs to lane {other.name}"
                if other is not None
                else f"which is not among lane {lane.name}'s ({', '.join(allowed)})"
            )
            target = ObjectKey("", kind, key.namespace, reference.name)
            yield Violation(
                rule_id,
                key,
                str(obj.get("apiVersion", "")),
                f"{key} in lane {lane.name} uses {kind} {reference.name}, {why}",
                (Evidence(key, reference.path, "uses it"), Evidence(target, "", why)),
            )


def _uses(key: ObjectKey, obj: Mapping[str, Any], kind: str) -> Iterator[pods.Reference]:
    if kind == "ServiceAccount":
        found = pods.template(key, obj)
        if found is not None:
            spec = found[1].get("spec") or {}
            name = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
            yield pods.Reference(kind, str(name), f"{found[0]}/spec/serviceAccountName")
        return
    yield from (r for r in pods.references(key, obj) if r.kind == kind)


@rule(
    "lane.secret",
    "high",
    "Workloads use their own lane's Secrets",
    """A workload that reads another lane's Secret (or one its lane does not allow) crosses
    the line between lanes: the fast lane must not hold the controlled lane's credentials.
    Give the lane its own Secret, or change the lane's `secrets` globs if this one is
    meant to be shared.""",
    local=True,
)
def secret(objects: Objects, reach: Reach) -> Iterator[Violation]:
    return _allowance(objects, reach, "lane.secret", "Secret", "secrets")


@rule(
    "lane.service-account",
    "high",
    "Workloads run as their own lane's service accounts",
    """A workload running as a service account outside its lane's `serviceAccounts` holds
    permissions granted for someone else. Run it as one of the lane's accounts.""",
    local=True,
)
def service_account(objects: Objects, reach: Reach) -> Iterator[Violation]:
    return _allowance(objects, reach, "lane.service-account", "ServiceAccount", "service_accounts")


def image_reference(image: str) -> str:
    """An image as its registry sees it: `nginx` is docker.io/library/nginx."""
    first, slash, rest = image.partition("/")
    if not slash:
        return f"docker.io/library/{image}"
    if "." not in first and ":" not in first and first != "localhost":
        return f"docker.io/{image}"
    return image


@rule(
    "lane.registry",
    "high",
    "Images come from their lane's registries",
    """An image pulled from a registry outside the lane's `registries` skips the lane's
    supply chain (its scanning, signing and promotion). Push the image to one of the
    lane's registries and deploy it from there.""",
    local=True,
)
def registry(objects: Objects, reach: Reach) -> Iterator[Violation]:
    for key, obj in reach.judged(objects):
        lane = _lane(reach, key)
        found = pods.template(key, obj)
        if lane is None or not lane.registries or found is None or pods.judged_on_its_owner(obj):
            continue
        spec = found[1].get("spec") or {}
        for group in pods.CONTAINER_LISTS:
            for index, container in enumerate(spec.get(group) or []):
                image = str((container or {}).get("image", ""))
                if image and not image_reference(image).startswith(lane.registries):
                    path = f"{found[0]}/spec/{group}/{index}/image"
                    yield Violation(
                        "lane.registry",
                        key,
                        str(obj.get("apiVersion", "")),
                        f"{key} in lane {lane.name} runs {image}, from outside the lane's "
                        f"registries ({', '.join(lane.registries)})",
                        (Evidence(key, path, image),),
                    )


@rule(
    "lane.binding",
    "critical",
    "Bindings grant only their own lane's subjects",
    """A RoleBinding in one lane's namespace that grants a subject of another lane lets
    that lane change this one's objects. Remove the subject; grant it in its own lane.""",
    local=True,
)
def binding(objects: Objects, reach: Reach) -> Iterator[Violation]:
    for key, obj in reach.judged(objects):
        lane = _lane(reach, key)
        if key.group != RBAC or key.kind != "RoleBinding" or lane is None:
            continue
        for index, subject in enumerate(obj.get("subjects") or []):
            other = _subject_lane(reach, lane, key, subject or {})
            if other is not None:
                who = f"{subject.get('kind')} {subject.get('name')}"
                yield Violation(
                    "lane.binding",
                    key,
                    str(obj.get("apiVersion", "")),
                    f"{key} in lane {lane.name} grants {who} of lane {other.name}",
                    (Evidence(key, f"/subjects/{index}", f"{who}, lane {other.name}"),),
                )


def _subject_lane(
    reach: Reach, lane: LaneSpec, key: ObjectKey, subject: Mapping[str, Any]
) -> LaneSpec | None:
    name = str(subject.get("name", ""))
    if subject.get("kind") == "ServiceAccount":
        namespace = str(subject.get("namespace") or key.namespace)
        owners = [o for o in reach.lanes if o.owns(namespace)]
        identity = f"system:serviceaccount:{namespace}:{name}"
        if lane in owners or _matches(identity, lane.identities):
            return None
        return owners[0] if owners else _identity_lane(reach, lane, identity)
    if _matches(name, lane.identities):
        return None
    return _identity_lane(reach, lane, name)


def _identity_lane(reach: Reach, lane: LaneSpec, identity: str) -> LaneSpec | None:
    return next(
        (o for o in reach.every_lane if o.name != lane.name and _matches(identity, o.identities)),
        None,
    )
