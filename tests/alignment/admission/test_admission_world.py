"""The webhook's worlds (alignment.admission.world): each cluster's lanes, Git-managed
objects and image verdicts read from the database, capped by the installation's mode,
and rebuilt only when something they were built from changed."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.db import OperationalError
from django.utils import timezone

from alignment import supply_chain
from alignment.admission import world as worlds_module
from alignment.admission.decide import Decision, Managed, decide
from alignment.admission.review import parse
from alignment.admission.world import Worlds, build
from alignment.models import AdmissionInstallation, ImageUse, ImageVerification
from alignment.scanning import lane_specs
from alignment.supply.verdict import Evidence, Signature
from drift.engine.normalize import ObjectKey
from tests.alignment.admission.test_decide import (
    ARGO,
    DEPLOYER,
    DIGEST,
    NEW_IMAGE,
    OUTSIDER,
    REVISION,
    SIGNERS,
    set_image,
)
from tests.factories import (
    ClusterFactory,
    DriftPolicyFactory,
    GitSourceFactory,
    LaneFactory,
    ManagedObjectFactory,
)

pytestmark = pytest.mark.django_db

REPO = "https://git.example/shop/deploy.git"
WEB = ObjectKey("apps", "Deployment", "shop", "web")
PINNED = f"registry.example.com/shop/web@{DIGEST}"


@pytest.fixture
def controlled():
    return LaneFactory(
        name="controlled",
        namespaces=["shop"],
        identities=[DEPLOYER],
        registries=["registry.example.com/shop/"],
        admission={"mode": "deny", "breakGlassGroups": ["sre-oncall"]},
    )


@pytest.fixture
def prod(controlled):
    cluster = ClusterFactory(name="prod")
    cluster.lanes.add(controlled)
    return cluster


@pytest.fixture
def policy(prod):
    return DriftPolicyFactory(cluster_names=[prod.name], source=GitSourceFactory(url=REPO))


def manage(policy, cluster, name: str = "web", path: str = "apps/web/deployment.yaml"):
    return ManagedObjectFactory(
        policy=policy,
        cluster=cluster,
        name=name,
        source=REPO,
        revision=REVISION,
        path=path,
    )


def decided(world, body: dict[str, Any]) -> Decision:
    return decide(parse(body), world)


def test_a_world_holds_the_clusters_lanes_every_lane_and_what_git_manages(
    controlled, prod, policy
) -> None:
    fast = LaneFactory(name="fast", namespaces=["dev-*"])  # another cluster's lane
    manage(policy, prod)

    world = build(prod)

    assert world.lanes == lane_specs([controlled])
    assert world.every_lane == lane_specs([controlled, fast])
    assert dict(world.managed) == {WEB: Managed(REPO, REVISION, "apps/web/deployment.yaml")}
    assert "system:kube-controller-manager" in world.trusted
    refused = decided(world, set_image(OUTSIDER))
    assert (refused.outcome, refused.rules) == ("deny", ("lane.deployer",))
    assert f"managed by Git ({REPO} at {REVISION[:12]}, apps/web/deployment.yaml)" in (
        refused.message
    )
    assert decided(world, set_image(ARGO)) == Decision("allow", True)


def test_a_cluster_without_lanes_judges_nothing() -> None:
    world = build(ClusterFactory())

    assert (world.lanes, dict(world.managed)) == ((), {})
    assert decided(world, set_image(OUTSIDER)) == Decision("allow", True)


def test_installed_in_warn_mode_the_lanes_that_deny_warn(prod, policy) -> None:
    manage(policy, prod)
    installation = AdmissionInstallation.objects.create(
        cluster=prod,
        name="driftcontrol-admission",
        url="https://admission.example:9443/validate/prod",
        mode="warn",
        installed_at=timezone.now(),
    )

    warned = decided(build(prod), set_image(OUTSIDER))
    assert (warned.outcome, warned.allowed, warned.rules) == ("warn", True, ("lane.deployer",))
    assert build(prod).lanes[0].admission["breakGlassGroups"] == ["sre-oncall"]

    installation.removed_at = timezone.now()
    installation.save()
    assert decided(build(prod), set_image(OUTSIDER)).outcome == "deny"


def test_a_policy_that_no_longer_targets_the_cluster_manages_nothing_there(prod, policy) -> None:
    manage(policy, prod)
    policy.cluster_names = ["staging"]
    policy.save()

    assert dict(build(prod).managed) == {}


def test_a_policy_choosing_clusters_by_label_manages_what_it_indexed(prod) -> None:
    prod.labels = {"env": "prod"}
    prod.save()
    chooser = DriftPolicyFactory(cluster_selector={"matchLabels": {"env": "prod"}})
    manage(chooser, prod)

    assert WEB in build(prod).managed


@pytest.fixture
def signing(controlled):
    controlled.supply = {"signers": SIGNERS}
    controlled.save()
    return controlled


def fingerprint(lane) -> str:
    return supply_chain.trust_of(lane_specs([lane])[0]).fingerprint()


def verdict(lane, digest: str = DIGEST, signed: bool = False, age: float = 0.0):
    signatures = (Signature("cosign", "release", "trusted"),) if signed else ()
    return ImageVerification.objects.create(
        digest=digest,
        trust=fingerprint(lane),
        evidence=Evidence(digest, signatures).as_dict(),
        verified_at=timezone.now() - timedelta(seconds=age),
    )


def use(policy, cluster, image: str = NEW_IMAGE, digest: str = DIGEST, lane: str = "controlled"):
    return ImageUse.objects.create(
        policy=policy,
        cluster=cluster,
        namespace="shop",
        kind="Deployment",
        name="web",
        container="web",
        image=image,
        digest=digest,
        lane=lane,
        state="unsigned",
        seen_at=timezone.now(),
    )


def test_a_tag_a_scan_resolved_is_judged_by_the_verdict_on_its_digest(
    signing, prod, policy
) -> None:
    use(policy, prod)
    verdict(signing)

    refused = decided(build(prod), set_image(ARGO))

    assert (refused.outcome, refused.rules) == ("deny", ("supply.unsigned",))
    assert refused.unverified == ()


def test_a_pinned_image_no_scan_saw_counts_by_its_digests_verdict(signing, prod) -> None:
    verdict(signing)

    refused = decided(build(prod), set_image(ARGO, image=PINNED))

    assert (refused.outcome, refused.rules) == ("deny", ("supply.unsigned",))
    assert PINNED not in build(prod).images  # judged when asked, never kept


def test_a_signed_image_passes_and_one_never_verified_is_allowed_and_listed(signing, prod) -> None:
    verdict(signing, signed=True)
    other = "registry.example.com/shop/web@sha256:" + "ab" * 32

    assert decided(build(prod), set_image(ARGO, image=PINNED)) == Decision("allow", True)
    unseen = decided(build(prod), set_image(ARGO, image=other))
    assert unseen == Decision("allow", True, unverified=(other,))
    # A tag no scan resolved on this cluster: unknown, whatever was verified elsewhere.
    assert decided(build(prod), set_image(ARGO)).unverified == (NEW_IMAGE,)


def test_a_verdict_that_could_have_improved_since_is_not_used(signing, prod, settings) -> None:
    settings.SUPPLY_RECHECK_SECONDS = 600
    verdict(signing, age=601)  # unsigned then; the pipeline may have signed it since

    found = decided(build(prod), set_image(ARGO, image=PINNED))

    assert found == Decision("allow", True, unverified=(PINNED,))


def test_a_verdict_under_another_trust_says_nothing(signing, prod) -> None:
    verdict(signing)
    signing.supply = {"signers": [{"name": "release", "key": "ANOTHER PEM"}]}
    signing.save()

    assert decided(build(prod), set_image(ARGO, image=PINNED)).unverified == (PINNED,)


def test_worlds_are_rebuilt_only_when_what_they_are_built_from_changed(
    prod, policy, django_assert_max_num_queries
) -> None:
    worlds = Worlds(refresh_seconds=60)
    assert (worlds.ready, worlds.get("prod")) == (False, None)
    assert worlds.refresh() is True
    built = worlds.get("prod")
    assert worlds.ready and built is not None and dict(built.managed) == {}

    with django_assert_max_num_queries(8):  # the stamp, and nothing built
        assert worlds.refresh() is False
    assert worlds.get("prod") is built

    manage(policy, prod)
    assert worlds.refresh() is True
    assert WEB in worlds.get("prod").managed
    assert worlds.get("nowhere") is None


def test_a_change_on_one_cluster_rebuilds_that_clusters_world_only(
    controlled, prod, policy
) -> None:
    staging = ClusterFactory(name="staging")
    staging.lanes.add(controlled)
    worlds = Worlds(refresh_seconds=60)
    worlds.refresh()
    before = {name: worlds.get(name) for name in ("prod", "staging")}

    row = manage(policy, prod)
    assert worlds.refresh() is True
    assert worlds.get("staging") is before["staging"]
    assert worlds.get("prod") is not before["prod"]

    # A row replaced (as the index replaces a changed one) is a change too.
    row.delete()
    manage(policy, prod, path="apps/web/moved.yaml")
    assert worlds.refresh() is True
    assert worlds.get("prod").managed[WEB].path == "apps/web/moved.yaml"


@pytest.mark.parametrize(
    "change",
    ["lane", "lane of the cluster", "installation", "verdict", "image use", "rename"],
)
def test_each_thing_a_world_is_built_from_is_seen_to_change(signing, prod, policy, change) -> None:
    worlds = Worlds(refresh_seconds=60)
    worlds.refresh()
    if change == "lane":
        signing.admission = {"mode": "warn"}
        signing.save()
    elif change == "lane of the cluster":
        prod.lanes.add(LaneFactory(name="fast", namespaces=["dev-*"]))
    elif change == "installation":
        AdmissionInstallation.objects.create(
            cluster=prod,
            name="x",
            url="https://a.example/",
            mode="warn",
            installed_at=timezone.now(),
        )
    elif change == "verdict":
        verdict(signing)
    elif change == "image use":
        use(policy, prod)
    else:
        prod.name = "production"
        prod.save()

    assert worlds.refresh() is True
    assert worlds.get("production" if change == "rename" else "prod") is not None


def test_a_new_verdict_rebuilds_only_the_worlds_whose_lanes_want_evidence(signing, prod) -> None:
    plain = ClusterFactory(name="dev")
    plain.lanes.add(LaneFactory(name="fast", namespaces=["dev-*"]))
    worlds = Worlds(refresh_seconds=60)
    worlds.refresh()
    before = worlds.get("dev")

    verdict(signing)

    assert worlds.refresh() is True
    assert worlds.get("dev") is before


def test_a_deleted_cluster_has_no_world_any_more(prod) -> None:
    worlds = Worlds(refresh_seconds=60)
    worlds.refresh()

    prod.delete()

    assert worlds.refresh() is True
    assert worlds.get("prod") is None


def test_a_world_older_than_its_verdicts_may_be_is_rebuilt(prod) -> None:
    worlds = Worlds(refresh_seconds=60)
    worlds.refresh()
    built = worlds.get("prod")

    with mock.patch.object(worlds_module.time, "monotonic", return_value=time.monotonic() + 301):
        assert worlds.refresh() is True
    assert worlds.get("prod") is not built


def test_a_database_that_does_not_answer_leaves_the_worlds_held(prod, policy, caplog) -> None:
    worlds = Worlds(refresh_seconds=60)
    worlds.refresh()
    built = worlds.get("prod")
    manage(policy, prod)

    with mock.patch.object(worlds_module, "_stamps", side_effect=OperationalError("gone")):
        assert worlds.refresh() is False

    assert worlds.get("prod") is built
    assert "the database could not be read (gone); keeping the worlds held" in caplog.text
    assert worlds.refresh() is True  # back: the change is seen


def test_a_world_that_cannot_be_built_keeps_its_last_one_and_the_others_are_built(
    controlled, prod, caplog
) -> None:
    staging = ClusterFactory(name="staging")
    staging.lanes.add(controlled)
    worlds = Worlds(refresh_seconds=60)
    worlds.refresh()
    held = worlds.get("prod")
    real = worlds_module.build

    def broken_for_prod(cluster):
        if cluster.name == "prod":
            raise KeyError("supply")
        return real(cluster)

    LaneFactory(name="fast")  # every world depends on every lane
    with mock.patch.object(worlds_module, "build", side_effect=broken_for_prod):
        assert worlds.refresh() is True

    assert worlds.get("prod") is held
    assert worlds.get("staging") is not None
    assert "building the world of cluster prod failed; its last one stays" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_the_thread_sees_a_change_within_a_refresh(controlled, prod, policy) -> None:
    worlds = Worlds(refresh_seconds=0.05)
    worlds.start()
    try:
        assert worlds.ready and worlds.get("prod") is not None
        manage(policy, prod)
        deadline = time.monotonic() + 10
        while WEB not in worlds.get("prod").managed and time.monotonic() < deadline:
            time.sleep(0.02)
        assert WEB in worlds.get("prod").managed
    finally:
        worlds.stop()
