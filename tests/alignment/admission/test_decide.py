"""The admission decision (alignment.admission.decide): who may change a lane's Git-managed
objects, and what the lane's rules say of the incoming object, per the lane's mode; the
requests as kube-apiserver sends them (tests.alignment.admission.test_review)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from alignment import rules
from alignment.admission.decide import Decision, Managed, World, decide
from alignment.admission.review import parse, response
from alignment.rules.images import ImageCheck
from alignment.supply.verdict import Evidence, Signature
from drift.engine.normalize import ObjectKey
from tests.alignment.admission.test_review import SET_IMAGE, review

DEPLOYER = "system:serviceaccount:argocd:argocd-application-controller"
TRUSTED = ("system:serviceaccount:kube-system:*", "system:kube-controller-manager")
OUTSIDER = {"username": "alice", "groups": ["developers", "system:authenticated"]}
ON_CALL = {"username": "bob", "groups": ["sre-oncall", "system:authenticated"]}
ARGO = {"username": DEPLOYER, "groups": ["system:serviceaccounts", "system:authenticated"]}
WEB = ObjectKey("apps", "Deployment", "shop", "web")
REVISION = "9fceb02d0ae598e95dc970b74767f19372d61af8"
NEW_IMAGE = "registry.example.com/shop/web:1.5.0"
DIGEST = "sha256:" + "7e" * 32
SIGNERS = [{"name": "release", "key": "PEM"}]


def lane(mode: str, **more: Any) -> rules.LaneSpec:
    admission = {"mode": mode, "breakGlassGroups": ["sre-oncall"]}
    fields: dict[str, Any] = {
        "name": "controlled",
        "namespaces": ("shop",),
        "identities": (DEPLOYER,),
        "registries": ("registry.example.com/shop/",),
        "secrets": ("shop-*",),
        "admission": admission,
    }
    return rules.LaneSpec(**(fields | more))


FAST = rules.LaneSpec("fast", ("dev-*",), ("ci-fast",), secrets=("fast-*",))


def world(mode: str = "deny", **changes: Any) -> World:
    controlled = changes.pop("lane", None) or lane(mode)
    fields: dict[str, Any] = {
        "lanes": (controlled, FAST),
        "every_lane": (controlled, FAST),
        "managed": {WEB: Managed("shop-config", REVISION, "apps/web/deployment.yaml")},
        "trusted": TRUSTED,
    }
    return World(**(fields | changes))


def decided(body: dict[str, Any], mode: str = "deny", **changes: Any) -> Decision:
    return decide(parse(body), world(mode, **changes))


def set_image(user: dict[str, Any], image: str = NEW_IMAGE, **changes: Any) -> dict[str, Any]:
    """kubectl set image on the Git-managed Deployment, by ``user``, to ``image``."""
    body = review(userInfo=user, **changes)
    containers = body["request"]["object"]["spec"]["template"]["spec"]["containers"]
    containers[0]["image"] = image
    return body


def test_a_lane_in_mode_off_prevents_nothing() -> None:
    assert decided(set_image(OUTSIDER), mode="off") == Decision("allow", True)


def test_the_lanes_deployer_changes_its_objects() -> None:
    assert decided(set_image(ARGO)) == Decision("allow", True)


def test_an_outsider_editing_a_git_managed_deployment_is_warned_in_mode_warn() -> None:
    found = decided(set_image(OUTSIDER), mode="warn")

    said = (
        "Deployment.apps shop/web in lane controlled is managed by Git (shop-config at "
        "9fceb02d0ae5, apps/web/deployment.yaml) and alice is not one of the lane's "
        "deployers: commit the change to Git; the lane's deployer applies it"
    )
    assert (found.outcome, found.allowed, found.rules) == ("warn", True, ("lane.deployer",))
    assert found.warnings == (f"lane.deployer: {said}",)
    assert response("3f5c", found)["response"]["warnings"] == [f"lane.deployer: {said}"]


def test_an_outsider_editing_a_git_managed_deployment_is_refused_in_mode_deny() -> None:
    found = decided(set_image(OUTSIDER))

    assert (found.outcome, found.allowed, found.rules) == ("deny", False, ("lane.deployer",))
    assert found.message.startswith("lane controlled refuses this change: lane.deployer: ")
    for named in ("Deployment.apps shop/web", "shop-config", "9fceb02d0ae5", "deployment.yaml"):
        assert named in found.message
    assert "commit the change to Git" in found.message
    status = response("3f5c", found)["response"]["status"]
    assert (status["code"], status["message"]) == (403, found.message)


def test_an_outsider_changing_what_git_does_not_manage_is_allowed() -> None:
    assert decided(set_image(OUTSIDER), managed={}) == Decision("allow", True)


def test_the_break_glass_group_passes_in_mode_deny_and_is_flagged_for_review() -> None:
    found = decided(set_image(ON_CALL))

    assert (found.outcome, found.allowed) == ("break-glass", True)
    assert found.rules == ("lane.break-glass", "lane.deployer")
    assert found.warnings[0] == (
        "lane.break-glass: bob changed Deployment.apps shop/web in lane controlled through "
        "break-glass (group sre-oncall); the change is recorded for review: put it in Git "
        "or revert it"
    )
    assert found.warnings[1].startswith("lane.deployer: Deployment.apps shop/web")
    assert "status" not in response("3f5c", found)["response"]
    assert rules.RULES["lane.break-glass"].severity == "high"


def test_a_break_glass_member_making_an_ordinary_change_is_not_flagged() -> None:
    assert decided(set_image(ON_CALL), managed={}) == Decision("allow", True)


def uses_secret(body: dict[str, Any], secret: str, side: str = "object") -> dict[str, Any]:
    container = body["request"][side]["spec"]["template"]["spec"]["containers"][0]
    container["env"][0]["valueFrom"]["secretKeyRef"]["name"] = secret
    return body


def test_another_lanes_secret_is_refused_even_to_the_deployer() -> None:
    found = decided(uses_secret(set_image(ARGO), "fast-db"))

    assert (found.outcome, found.rules) == ("deny", ("lane.secret",))
    assert (
        "lane.secret: Deployment.apps shop/web in lane controlled uses Secret fast-db, which "
        "belongs to lane fast"
    ) in found.message


def test_an_image_from_outside_the_lanes_registries_is_refused() -> None:
    found = decided(set_image(ARGO, "docker.io/library/nginx:1.27"))

    assert (found.outcome, found.rules) == ("deny", ("lane.registry",))
    assert "runs docker.io/library/nginx:1.27, from outside the lane's registries" in (
        found.message
    )


def test_the_same_violations_are_warnings_in_mode_warn() -> None:
    body = uses_secret(set_image(OUTSIDER, "docker.io/library/nginx:1.27"), "fast-db")

    found = decided(body, mode="warn")

    assert (found.outcome, found.allowed) == ("warn", True)
    assert found.rules == ("lane.deployer", "lane.registry", "lane.secret")
    assert [w.split(":")[0] for w in found.warnings] == list(found.rules)


def signing_lane() -> rules.LaneSpec:
    return lane("deny", supply={"signers": SIGNERS})


def test_an_unsigned_image_the_cache_has_verified_is_refused() -> None:
    unsigned = ImageCheck(NEW_IMAGE, DIGEST, evidence=Evidence(DIGEST))
    images = {("controlled", NEW_IMAGE): unsigned}

    found = decided(set_image(ARGO), lane=signing_lane(), images=images)

    assert (found.outcome, found.rules, found.unverified) == ("deny", ("supply.unsigned",), ())
    assert "supply.unsigned: Deployment.apps shop/web in lane controlled runs " in found.message
    assert "no signature in its registry" in found.message


def test_a_signed_image_passes() -> None:
    signed = Evidence(DIGEST, (Signature("cosign", "release", "trusted"),))
    images = {("controlled", NEW_IMAGE): ImageCheck(NEW_IMAGE, DIGEST, evidence=signed)}

    assert decided(set_image(ARGO), lane=signing_lane(), images=images) == Decision("allow", True)


def test_an_image_the_cache_has_not_seen_is_allowed_and_left_to_the_scan() -> None:
    found = decided(set_image(ARGO), lane=signing_lane())

    assert found == Decision("allow", True, unverified=(NEW_IMAGE,))


def test_an_image_whose_registry_could_not_be_read_is_allowed_too() -> None:
    unreadable = ImageCheck(NEW_IMAGE, unverifiable="registry.example.com: connection refused")
    images = {("controlled", NEW_IMAGE): unreadable}

    found = decided(set_image(ARGO), lane=signing_lane(), images=images)

    assert found == Decision("allow", True, unverified=(NEW_IMAGE,))


def deletion(user: dict[str, Any]) -> dict[str, Any]:
    options = {
        "kind": "DeleteOptions",
        "apiVersion": "meta.k8s.io/v1",
        "propagationPolicy": "Background",
    }
    body = review(operation="DELETE", userInfo=user, options=options)
    body["request"]["object"] = None  # a DELETE sends the object as it is, as oldObject
    return body


def test_deleting_a_git_managed_object_is_judged_on_who_deletes_it() -> None:
    refused = decided(deletion(OUTSIDER))

    assert (refused.outcome, refused.rules) == ("deny", ("lane.deployer",))
    # What it was (another lane's Secret, say) is not judged again on its way out.
    assert decided(uses_secret(deletion(ARGO), "fast-db", "oldObject")) == Decision("allow", True)


def scale(user: dict[str, Any], replicas: int) -> dict[str, Any]:
    """`kubectl scale deployment/web --replicas=N`: an UPDATE of the scale subresource."""

    def of(count: int) -> dict[str, Any]:
        return {
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {"name": "web", "namespace": "shop", "resourceVersion": "184467"},
            "spec": {"replicas": count},
            "status": {"replicas": 3, "selector": "app=web"},
        }

    return review(
        kind={"group": "autoscaling", "version": "v1", "kind": "Scale"},
        subResource="scale",
        requestSubResource="scale",
        userInfo=user,
        object=of(replicas),
        oldObject=of(3),
        options={
            "kind": "UpdateOptions",
            "apiVersion": "meta.k8s.io/v1",
            "fieldManager": "kubectl-scale",
        },
    )


def test_scaling_a_git_managed_deployment_is_changing_it() -> None:
    found = decided(scale(OUTSIDER, 10))

    assert (found.outcome, found.rules) == ("deny", ("lane.deployer",))
    assert found.message.startswith(
        "lane controlled refuses this change: lane.deployer: Deployment.apps shop/web in lane "
        "controlled is managed by Git"
    )
    autoscaler = {"username": "system:serviceaccount:kube-system:horizontal-pod-autoscaler"}
    assert decided(scale(autoscaler, 5)) == Decision("allow", True)


def test_the_control_plane_writes_status_whatever_the_object_breaks() -> None:
    controller = {"username": "system:serviceaccount:kube-system:deployment-controller"}
    body = uses_secret(review(subResource="status", userInfo=controller), "fast-db")

    assert decided(body) == Decision("allow", True)
    # Nor is the deployer's status write judged on the spec (the API server ignores it).
    deployer = uses_secret(review(subResource="status", userInfo=ARGO), "fast-db")
    assert decided(deployer) == Decision("allow", True)


@pytest.mark.parametrize("namespace", ["", "shop"])
def test_a_git_managed_namespace_is_its_lanes_object(namespace: str) -> None:
    labelled = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}
    body = review(
        kind={"group": "", "version": "v1", "kind": "Namespace"},
        resource={"group": "", "version": "v1", "resource": "namespaces"},
        name="shop",
        namespace=namespace or None,
        userInfo=OUTSIDER,
        object=labelled,
        oldObject=labelled,
    )
    managed = {ObjectKey("", "Namespace", "", "shop"): Managed("shop-config", REVISION, "ns.yaml")}

    found = decided(body, managed=managed)

    assert (found.outcome, found.rules) == ("deny", ("lane.deployer",))
    assert "Namespace shop in lane controlled is managed by Git" in found.message


def test_an_update_is_judged_on_what_it_brings_not_on_what_the_object_broke_before() -> None:
    body = uses_secret(uses_secret(review(userInfo=ARGO), "fast-db"), "fast-db", "oldObject")
    relabelled = copy.deepcopy(body)
    relabelled["request"]["object"]["metadata"]["labels"]["team"] = "payments"

    assert decided(relabelled) == Decision("allow", True)
    assert decided(uses_secret(body, "fast-api")).rules == ("lane.secret",)


def in_namespace(body: dict[str, Any], namespace: str) -> dict[str, Any]:
    body["request"]["namespace"] = namespace
    for side in ("object", "oldObject"):
        body["request"][side]["metadata"]["namespace"] = namespace
    return body


@pytest.mark.parametrize(
    ("namespace", "lanes"),
    [
        ("kube-system", (lane("deny", namespaces=("kube-*", "shop")),)),
        ("payments", (lane("deny"), FAST)),  # no lane owns it
        ("shop", (lane("deny"), lane("deny", name="other"))),  # two do: lane.namespace's
    ],
)
def test_namespaces_no_one_lane_owns_are_let_be(
    namespace: str, lanes: tuple[rules.LaneSpec, ...]
) -> None:
    body = in_namespace(uses_secret(set_image(OUTSIDER), "fast-db"), namespace)
    managed = {ObjectKey("apps", "Deployment", namespace, "web"): Managed("s", REVISION, "f")}

    assert decided(body, lanes=lanes, managed=managed) == Decision("allow", True)


def test_a_dry_run_is_decided_like_the_real_change() -> None:
    real = decided(set_image(OUTSIDER))

    assert decided(set_image(OUTSIDER, dryRun=True)) == real
    assert real.outcome == "deny"


def test_exec_into_a_pod_is_no_change() -> None:
    body = review(
        operation="CONNECT",
        kind={"group": "", "version": "v1", "kind": "PodExecOptions"},
        resource={"group": "", "version": "v1", "resource": "pods"},
        subResource="exec",
        name="web-7d9c6b5f8d-x2x9q",
        userInfo=OUTSIDER,
        object={"kind": "PodExecOptions", "apiVersion": "v1", "command": ["sh"]},
        oldObject=None,
    )

    assert decided(body) == Decision("allow", True)


def test_the_request_as_sent_is_refused_to_alice() -> None:
    # The body exactly as the API server sent it: alice is no deployer of lane controlled.
    assert decided(SET_IMAGE).outcome == "deny"
