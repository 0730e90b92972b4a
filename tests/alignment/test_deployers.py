"""Deployer identity (alignment.rules.deployers): writes to a lane's objects come only
from the lane's identities (and the identities trusted everywhere), judged from the API
server's audit feed: the user, the verb, and the field manager of the same write."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alignment import rules
from tests.alignment.test_lanes import LANES
from tests.alignment.test_references import WEB, objects

T0 = datetime(2026, 12, 1, 10, 15, 2, 113022, tzinfo=UTC)
DEPLOYER = "system:serviceaccount:gitops:deployer"
TRUSTED = ("system:serviceaccount:kube-system:*", "driftcontrol-scanner")


def web_with_managers(*entries: tuple[str, datetime]) -> dict:  # type: ignore[type-arg]
    ((key, obj),) = objects(WEB).items()
    obj["metadata"]["managedFields"] = [
        {"manager": manager, "operation": "Update", "apiVersion": "apps/v1",
         "time": at.strftime("%Y-%m-%dT%H:%M:%SZ"), "fieldsType": "FieldsV1", "fieldsV1": {}}
        for manager, at in entries
    ]  # fmt: skip
    return {key: obj}


def deployer_findings(objs: dict, *writes: rules.Write) -> list[rules.Violation]:  # type: ignore[type-arg]
    (key,) = objs
    circumstances = rules.Circumstances(writes={key: writes}, trusted=TRUSTED)
    found = rules.evaluate(objs, rules.everything, LANES, circumstances=circumstances)
    return [v for v in found if v.rule == "lane.deployer"]


def test_an_edit_by_someone_outside_the_lane_names_the_user_the_verb_and_the_tool() -> None:
    objs = web_with_managers(("kubectl-client-side-apply", T0 - timedelta(days=1)),
                             ("kubectl-edit", T0.replace(microsecond=0)))  # fmt: skip
    found = deployer_findings(
        objs,
        rules.Write(DEPLOYER, "patch", T0 - timedelta(days=1)),
        rules.Write("alice", "patch", T0, groups=("system:authenticated",)),
    )

    assert [(v.rule, str(v.key)) for v in found] == [("lane.deployer", "Deployment.apps shop/web")]
    assert found[0].message == (
        "Deployment.apps shop/web in lane controlled was changed by alice (patch through "
        "kubectl-edit, 2026-12-01 10:15:02 UTC, audit feed), who is not one of the lane's "
        "deployers"
    )
    assert found[0].severity == "high"
    assert rules.RULES["lane.deployer"].local


def test_the_same_edit_by_the_lanes_deployer_is_clean() -> None:
    assert deployer_findings(web_with_managers(), rules.Write(DEPLOYER, "patch", T0)) == []


def test_a_deployer_identity_may_be_a_group_and_trusted_controllers_write_anywhere() -> None:
    lanes_group = rules.Write("carol", "update", T0, groups=(DEPLOYER,))
    controller = rules.Write(
        "system:serviceaccount:kube-system:deployment-controller", "update", T0
    )

    assert deployer_findings(web_with_managers(), lanes_group, controller) == []


def test_a_scale_is_attributed_to_its_user_though_managed_fields_cannot_show_it() -> None:
    found = deployer_findings(
        web_with_managers(), rules.Write("bob", "patch", T0, subresource="scale")
    )

    assert "changed by bob (patch of scale, 2026-12-01 10:15:02 UTC, audit feed)" in (
        found[0].message
    )


def test_a_later_write_by_the_deployer_ends_it_and_every_outside_write_is_evidence() -> None:
    alice = rules.Write("alice", "patch", T0)
    bob = rules.Write("bob", "update", T0 + timedelta(minutes=1))
    redeploy = rules.Write(DEPLOYER, "patch", T0 + timedelta(minutes=2))

    found = deployer_findings(web_with_managers(), alice, bob)
    assert [e.note.split(" (")[0] for e in found[0].evidence] == ["bob", "alice"]
    assert deployer_findings(web_with_managers(), alice, bob, redeploy) == []


def test_without_writes_or_outside_any_lane_nothing_is_judged() -> None:
    assert deployer_findings(web_with_managers()) == []
    foreign = WEB.replace("namespace: shop", "namespace: tools")
    (key, obj), = objects(foreign).items()  # fmt: skip
    assert deployer_findings({key: obj}, rules.Write("alice", "patch", T0)) == []


def test_the_tool_named_is_the_users_not_a_controllers_status_update_that_second() -> None:
    objs = web_with_managers(("kube-controller-manager", T0.replace(microsecond=0)),
                             ("kubectl-edit", T0.replace(microsecond=0)))  # fmt: skip

    found = deployer_findings(objs, rules.Write("alice", "patch", T0))

    assert "changed by alice (patch through kubectl-edit, " in found[0].message
