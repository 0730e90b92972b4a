"""AdmissionReview v1 (alignment.admission.review): the request kube-apiserver sends read
whole, a hostile or malformed body refused with what and where, and the response shaped
as the API server reads it back."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from alignment.admission.decide import Decision
from alignment.admission.review import BadReview, Kind, Resource, parse, response

# What kube-apiserver 1.20 posts for `kubectl set image deployment/web
# web=registry.example.com/shop/web:1.5.0 -n shop` run by alice (a strategic merge patch:
# an UPDATE with PatchOptions, the object as it would be stored and as it is).
SET_IMAGE = json.loads((Path(__file__).parent / "set_image_review.json").read_text())


def review(**changes: Any) -> dict[str, Any]:
    """The kubectl set image review, with some of its request's fields changed (None
    removes one)."""
    body = copy.deepcopy(SET_IMAGE)
    for key, value in changes.items():
        if value is None:
            body["request"].pop(key, None)
        else:
            body["request"][key] = value
    return body


def test_it_reads_what_kubectl_set_image_makes_the_api_server_send() -> None:
    request = parse(SET_IMAGE)

    assert request.uid == "3f5c2a7e-9b8d-4c61-a0f2-6d1e8b4c7a90"
    assert request.kind == Kind("apps", "v1", "Deployment")
    assert request.resource == Resource("apps", "v1", "deployments")
    assert (request.namespace, request.name, request.subresource) == ("shop", "web", "")
    assert request.operation == "UPDATE"
    assert (request.user, request.groups) == ("alice", ("developers", "system:authenticated"))
    assert request.object is not None and request.old_object is not None
    assert request.object["spec"]["template"]["spec"]["containers"][0]["image"] == (
        "registry.example.com/shop/web:1.5.0"
    )
    assert request.old_object["metadata"]["generation"] == 3
    assert request.dry_run is False


def test_a_create_names_no_object_when_generate_name_chooses_it() -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"generateName": "debug-"}}
    body = review(
        operation="CREATE",
        kind={"group": "", "version": "v1", "kind": "Pod"},
        resource={"group": "", "version": "v1", "resource": "pods"},
        name=None,
        object=pod,
        oldObject=None,
        dryRun=True,
    )

    request = parse(body)

    assert (request.kind, request.name, request.old_object) == (Kind("", "v1", "Pod"), "", None)
    assert request.dry_run is True


@pytest.mark.parametrize(
    ("body", "said"),
    [
        ([SET_IMAGE], "body: must be an object"),
        ("{}", "body: must be an object"),
        ({**SET_IMAGE, "apiVersion": "admission.k8s.io/v1beta1"}, "apiVersion: must be"),
        ({**SET_IMAGE, "kind": "TokenReview"}, "kind: must be AdmissionReview"),
        ({k: v for k, v in SET_IMAGE.items() if k != "request"}, "request: missing"),
        ({**SET_IMAGE, "request": ["uid"]}, "request: must be an object"),
        (review(uid=None), "request.uid: missing"),
        (review(uid=42), "request.uid: must be a string"),
        (review(uid="u" * 129), "request.uid: longer than 128 characters"),
        (review(operation="PATCH"), "request.operation: must be one of CREATE, UPDATE"),
        (review(operation=None), "request.operation: missing"),
        (review(kind="Deployment"), "request.kind: must be an object"),
        (review(kind={"group": "apps", "version": "v1"}), "request.kind.kind: missing"),
        (review(resource={"group": 1, "version": "v1", "resource": "x"}), "request.resource.group"),
        (review(namespace="n" * 64), "request.namespace: longer than 63 characters"),
        (review(name=["web"]), "request.name: must be a string"),
        (review(userInfo=None), "request.userInfo: missing"),
        (review(userInfo={"groups": ["sre-oncall"]}), "request.userInfo.username: missing"),
        (
            review(userInfo={"username": "mallory", "groups": "sre-oncall"}),
            "request.userInfo.groups: must be a list of strings",
        ),
        (
            review(userInfo={"username": "mallory", "groups": ["ok", {"name": "sre-oncall"}]}),
            "request.userInfo.groups[1]: must be a string",
        ),
        (review(object=["spec"]), "request.object: must be an object"),
        (review(object={"metadata": "web"}), "request.object.metadata: must be an object"),
        (review(oldObject=7), "request.oldObject: must be an object"),
        (review(object=None), "request.object: missing (every UPDATE carries the object)"),
        (review(dryRun="false"), "request.dryRun: must be true or false"),
    ],
)
def test_a_body_that_is_no_review_is_refused_with_what_and_where(body: Any, said: str) -> None:
    with pytest.raises(BadReview) as refused:
        parse(body)

    assert str(refused.value).startswith(said), str(refused.value)


def test_an_allowed_change_is_answered_with_its_uid_and_nothing_else() -> None:
    assert response("3f5c", Decision("allow", True)) == {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "response": {"uid": "3f5c", "allowed": True},
    }


def test_a_refusal_carries_a_403_and_the_message_kubectl_prints() -> None:
    decision = Decision("deny", False, ("lane.deployer",), "lane controlled refuses this change")

    assert response("3f5c", decision)["response"] == {
        "uid": "3f5c",
        "allowed": False,
        "status": {
            "code": 403,
            "reason": "Forbidden",
            "message": "lane controlled refuses this change",
        },
    }


def test_warnings_are_one_line_each_ten_at_most_and_short_enough_for_the_api_server() -> None:
    said = ("lane.registry: runs\nevil.example/x\t:1", "x" * 300, *(f"w{n}" for n in range(12)))

    warnings = response("3f5c", Decision("warn", True, warnings=said))["response"]["warnings"]

    assert len(warnings) == 10
    assert warnings[0] == "lane.registry: runs evil.example/x :1"
    assert warnings[1] == "x" * 253 + "..."
    assert warnings[2:9] == [f"w{n}" for n in range(7)]
    assert warnings[9] == "... and 5 more warnings"
    assert all(len(w) <= 256 and "\n" not in w for w in warnings)
