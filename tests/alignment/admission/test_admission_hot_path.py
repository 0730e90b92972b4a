"""What the webhook works out once instead of per request, what it does not hold on to,
and how it reads and answers a body (alignment.admission.judging's prepared World, the
recorder's queue, review.read and encode): the decisions stay those rules.evaluate gives,
the answers those json.dumps writes."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from alignment import rules
from alignment.admission.decide import World, decide, target
from alignment.admission.judging import BINDING, OTHER, WORKLOAD, Prepared, sort_of
from alignment.admission.recorder import Recorder
from alignment.admission.review import BadReview, encode, parse, read, response
from alignment.rules.images import ImageCheck
from alignment.supply.verdict import Evidence
from drift.engine.normalize import ObjectKey
from tests.alignment.admission.test_decide import (
    ARGO,
    DIGEST,
    FAST,
    NEW_IMAGE,
    OUTSIDER,
    SIGNERS,
    WEB,
    lane,
    set_image,
    world,
)
from tests.alignment.admission.test_review import review

POD = ObjectKey("", "Pod", "shop", "debug")


def judged_at_admission(rule: rules.Rule) -> bool:
    return rule.local and rule.id != "lane.deployer"


def evaluated(key: ObjectKey, obj: dict[str, Any], decided_on: World) -> list[rules.Violation]:
    """What rules.evaluate says of the object, as decide judged it before it prepared the
    World: the images of a registry that answered, by the rules judged at admission."""
    checks = {k: c for k, c in decided_on.images.items() if not c.unverifiable}
    return rules.evaluate(
        {key: obj},
        rules.everything,
        decided_on.lanes,
        every_lane=decided_on.every_lane,
        circumstances=rules.Circumstances(images=checks, trusted=decided_on.trusted),
        only=judged_at_admission,
    )


def workloads() -> dict[ObjectKey, dict[str, Any]]:
    """A Deployment naming another lane's Secret and account, an image from elsewhere and
    one whose registry could not be read; a Pod of its own and a ReplicaSet's; a CronJob."""
    deployment = set_image(OUTSIDER)["request"]["object"]
    spec = deployment["spec"]["template"]["spec"]
    spec["serviceAccountName"] = "robot"
    spec["volumes"] = [{"name": "key", "secret": {"secretName": "fast-key"}}]
    spec["initContainers"] = [{"name": "db", "image": UNREADABLE.image}]
    spec["containers"].append({"name": "side", "image": "docker.io/library/busybox:1"})
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "debug"}, "spec": spec}
    copied = copy.deepcopy(pod)
    owner = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-1", "controller": True}
    copied["metadata"] = {"name": "web-1-x", "ownerReferences": [owner]}
    job = {"spec": {"jobTemplate": {"spec": {"template": {"spec": spec}}}}}
    return {
        WEB: deployment,
        POD: pod,
        ObjectKey("", "Pod", "shop", "web-1-x"): copied,
        ObjectKey("batch", "CronJob", "shop", "nightly"): {"apiVersion": "batch/v1", **job},
    }


def others() -> dict[ObjectKey, dict[str, Any]]:
    """A RoleBinding granting the fast lane's subjects, a ConfigMap, a Secret, the
    Namespace itself."""
    subjects = [
        {"kind": "ServiceAccount", "name": "ci", "namespace": "dev-1"},
        {"kind": "User", "name": "ci-fast"},
    ]
    binding = {"apiVersion": "rbac.authorization.k8s.io/v1", "subjects": subjects}
    return {
        ObjectKey("rbac.authorization.k8s.io", "RoleBinding", "shop", "ci"): binding,
        ObjectKey("", "ConfigMap", "shop", "web"): {"apiVersion": "v1", "data": {"a": "b"}},
        ObjectKey("", "Secret", "shop", "fast-key"): {"apiVersion": "v1", "data": {}},
        ObjectKey("", "Namespace", "", "shop"): {"apiVersion": "v1", "metadata": {}},
    }


SIGNED = ImageCheck(NEW_IMAGE, DIGEST, evidence=Evidence(DIGEST))
UNREADABLE = ImageCheck("registry.example.com/shop/db:2", unverifiable="timeout")
IMAGES = {("controlled", NEW_IMAGE): SIGNED, ("controlled", UNREADABLE.image): UNREADABLE}
WORLDS = {
    "signers": lambda: world(lane=lane("deny", supply={"signers": SIGNERS}), images=IMAGES),
    "signers only": lambda: world(
        lane=lane("deny", registries=(), secrets=(), supply={"signers": SIGNERS}), images=IMAGES
    ),
    "no terms": lambda: world(lane=lane("deny", registries=(), secrets=())),
    "accounts": lambda: world(lane=lane("warn", service_accounts=("web-*",))),
    "every namespace": lambda: world(
        lane=lane("deny", namespaces=("*",), supply={"signers": SIGNERS}), images=IMAGES
    ),
}


@pytest.mark.parametrize("name", WORLDS)
def test_the_rules_prepared_for_each_sort_of_object_find_what_rules_evaluate_finds(
    name: str,
) -> None:
    decided_on = WORLDS[name]()
    found: set[str] = set()
    for key, obj in {**workloads(), **others()}.items():
        place = decided_on.prepared.place(key)
        assert place is not None, key

        judged = rules.violations({key: obj}, place.reach, place.judging[sort_of(key)])

        assert judged == evaluated(key, obj, decided_on), (name, key)
        found |= {v.rule for v in judged}
    expected = {
        "signers": {"lane.secret", "lane.registry", "supply.unsigned", "lane.binding"},
        "signers only": {"lane.secret", "supply.unsigned", "lane.binding"},
        "no terms": {"lane.secret", "lane.binding"},  # the fast lane's Secret
        "accounts": {"lane.secret", "lane.registry", "lane.service-account", "lane.binding"},
        "every namespace": {"lane.secret", "lane.registry", "supply.unsigned", "lane.binding"},
    }
    assert found == expected[name]


def test_what_no_rule_judged_at_admission_reads_is_not_evaluated() -> None:
    place = world(lane=lane("deny", supply={"signers": SIGNERS})).prepared.place(WEB)

    assert place is not None
    assert place.judging[OTHER] == ()
    assert [rule.id for rule in place.judging[BINDING]] == ["lane.binding"]
    assert "lane.service-account" not in {rule.id for rule in place.judging[WORKLOAD]}


def test_a_namespace_is_placed_once_per_world_and_a_new_world_places_it_anew() -> None:
    first = world()
    place = first.prepared.place(WEB)

    assert place is not None and place.lane.name == "controlled" and place.mode == "deny"
    assert first.prepared.place(POD) is place  # same namespace: worked out once
    warned = world("warn").prepared.place(WEB)
    assert warned is not None and warned.mode == "warn"
    assert first.prepared.place(ObjectKey("", "Pod", "kube-system", "x")) is None
    assert first.prepared.place(ObjectKey("", "Pod", "nobodys", "x")) is None


def test_a_namespace_object_is_placed_in_its_own_lane() -> None:
    namespace = ObjectKey("", "Namespace", "", "shop")
    place = world().prepared.place(namespace)

    assert place is not None and place.lane.name == "controlled"
    assert place.reach.namespaces == frozenset({""})  # as rules.evaluate reaches it


def test_namespaces_past_the_limit_are_decided_alike_and_not_remembered() -> None:
    decided_on = World(lanes=(lane("deny", namespaces=("shop", "shop-*")), FAST))
    prepared: Prepared = decided_on.prepared
    for number in range(Prepared.KEPT + 10):
        prepared.place(ObjectKey("", "Pod", f"shop-{number}", "x"))

    assert len(prepared.places) == Prepared.KEPT
    late = prepared.place(ObjectKey("", "Pod", f"shop-{Prepared.KEPT + 5}", "x"))
    assert late is not None and late.lane.name == "controlled"


def test_a_deployers_change_is_allowed_with_the_prepared_world_as_before() -> None:
    decided_on = world()

    assert decide(parse(set_image(ARGO)), decided_on).outcome == "allow"
    assert decide(parse(set_image(OUTSIDER)), decided_on).outcome == "deny"


def test_the_recorders_queue_holds_no_object_the_request_carried() -> None:
    recorder = Recorder("127.0.0.1:9443", heartbeat_seconds=3600)
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "debug", "namespace": "shop"}}
    body = review(
        operation="CREATE",
        kind={"group": "", "version": "v1", "kind": "Pod"},
        resource={"group": "", "version": "v1", "resource": "pods"},
        name=None,  # named in the object only
        object=pod,
        oldObject=None,
    )
    request = parse(copy.deepcopy(body))
    decision = decide(request, world())

    recorder.submit("prod", request, decision, 0.3)

    _, queued, *_ = recorder._queue.get_nowait()
    assert (queued.object, queued.old_object) == (None, None)
    assert (queued.name, queued.uid, queued.user) == ("debug", request.uid, request.user)
    assert target(queued, World()) == target(request, World()) == POD  # recorded alike


def test_a_posted_body_is_read_as_parse_reads_its_json() -> None:
    body = json.dumps(set_image(OUTSIDER)).encode()

    assert read(body) == parse(json.loads(body))


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"\xff\xfe{}", b"[" * 2000 + b"]" * 2000, b'{"apiVersion": NaN}', b""],
)
def test_a_body_that_is_not_json_is_refused_as_such(body: bytes) -> None:
    with pytest.raises(BadReview) as refused:
        read(body)

    assert str(refused.value) == "body: not JSON"


@pytest.mark.parametrize("uid", ["3f5c2a7e-9b8d-4c61-a0f2-6d1e8b4c7a90", 'a"b\\c\u00e9\n', ""])
@pytest.mark.parametrize("user", [ARGO, OUTSIDER])
@pytest.mark.parametrize("mode", ["deny", "warn"])
def test_the_response_is_written_as_the_standard_library_writes_it(
    uid: str, user: dict[str, Any], mode: str
) -> None:
    decision = decide(parse(set_image(user)), world(mode))

    assert encode(uid, decision) == json.dumps(response(uid, decision)).encode()
