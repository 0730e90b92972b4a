"""The index of objects Git manages (alignment.managed_objects): written after each scan
that records, only what changed, and nothing deleted on an incomplete read of Git."""

from __future__ import annotations

import pytest

from alignment import managed_objects
from alignment.models import ManagedObject
from drift.engine.manifests import LoadError
from drift.engine.normalize import DesiredObject, ObjectKey
from drift.services.desired import DesiredState
from tests.factories import ClusterFactory, DriftPolicyFactory, GitSourceFactory

pytestmark = pytest.mark.django_db

REPO = "https://git.example/shop/deploy.git"
HEAD = "a" * 40
NEXT = "b" * 40


def declared(revision: str, names: list[str], errors: list[LoadError] | None = None):
    state = DesiredState(revision, errors=list(errors or []))
    for index, name in enumerate(names):
        key = ObjectKey("apps", "Deployment", "shop", name)
        manifest = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name}}
        source = f"apps/{name}.yaml:{index + 1}"
        state.objects[key] = DesiredObject(key, "apps/v1", {}, source, manifest)
    return state


def index() -> dict[str, tuple[str, str, str]]:
    rows = ManagedObject.objects.values_list("name", "source", "revision", "path")
    return {name: (source, revision, path) for name, source, revision, path in rows}


@pytest.fixture
def policy():
    return DriftPolicyFactory(source=GitSourceFactory(url=REPO))


def test_the_first_scan_indexes_every_object_git_declares_with_source_revision_and_file(
    policy,
) -> None:
    cluster = ClusterFactory()

    written = managed_objects.record(policy, cluster, declared(HEAD, ["web", "api"]))

    assert written == 2
    assert index() == {
        "web": (REPO, HEAD, "apps/web.yaml:1"),
        "api": (REPO, HEAD, "apps/api.yaml:2"),
    }
    row = ManagedObject.objects.get(name="web")
    assert (row.policy, row.cluster, row.api_group, row.kind, row.namespace) == (
        policy,
        cluster,
        "apps",
        "Deployment",
        "shop",
    )


def test_a_rescan_of_five_thousand_unchanged_objects_writes_nothing(
    policy, django_assert_num_queries
) -> None:
    cluster = ClusterFactory()
    names = [f"app-{n}" for n in range(5000)]
    managed_objects.record(policy, cluster, declared(HEAD, names))
    ids = set(ManagedObject.objects.values_list("pk", flat=True))

    with django_assert_num_queries(1):  # the one read of what the index holds
        written = managed_objects.record(policy, cluster, declared(HEAD, names))

    assert written == 0
    assert set(ManagedObject.objects.values_list("pk", flat=True)) == ids


def test_only_what_changed_is_written_and_a_change_leaves_a_new_row(policy) -> None:
    cluster = ClusterFactory()
    managed_objects.record(policy, cluster, declared(HEAD, ["web", "api", "db"]))
    before = dict(ManagedObject.objects.values_list("name", "pk"))

    # api moved to another line of its file; db is gone; cache is new.
    state = declared(HEAD, ["web", "cache", "api"])
    written = managed_objects.record(policy, cluster, state)

    after = dict(ManagedObject.objects.values_list("name", "pk"))
    assert written == 4  # api replaced (2), db deleted, cache inserted
    assert after["web"] == before["web"]
    assert after["api"] > max(before.values())  # what the webhook's stamp sees
    assert index() == {
        "web": (REPO, HEAD, "apps/web.yaml:1"),
        "cache": (REPO, HEAD, "apps/cache.yaml:2"),
        "api": (REPO, HEAD, "apps/api.yaml:3"),
    }


def test_a_new_revision_rewrites_the_revision_of_every_object(policy) -> None:
    cluster = ClusterFactory()
    managed_objects.record(policy, cluster, declared(HEAD, ["web", "api"]))

    managed_objects.record(policy, cluster, declared(NEXT, ["web", "api"]))

    assert {revision for _, revision, _ in index().values()} == {NEXT}


def test_an_incomplete_read_of_git_deletes_nothing_but_still_indexes_what_it_read(
    policy,
) -> None:
    cluster = ClusterFactory()
    managed_objects.record(policy, cluster, declared(HEAD, ["web", "api"]))
    broken = [LoadError("apps/api.yaml", 3, "mapping values are not allowed here")]

    managed_objects.record(policy, cluster, declared(NEXT, ["web", "cache"], broken))

    assert index() == {
        "web": (REPO, NEXT, "apps/web.yaml:1"),
        "api": (REPO, HEAD, "apps/api.yaml:2"),  # unknown, not gone: kept as it was
        "cache": (REPO, NEXT, "apps/cache.yaml:2"),
    }

    managed_objects.record(policy, cluster, declared(NEXT, ["web", "cache"]))
    assert set(index()) == {"web", "cache"}


def test_each_policy_and_cluster_pair_keeps_its_own_rows(policy) -> None:
    prod, staging = ClusterFactory(), ClusterFactory()
    other = DriftPolicyFactory(source=policy.source)
    managed_objects.record(policy, prod, declared(HEAD, ["web"]))
    managed_objects.record(other, prod, declared(HEAD, ["web"]))
    managed_objects.record(policy, staging, declared(HEAD, ["web"]))

    managed_objects.record(policy, prod, declared(HEAD, []))

    assert set(ManagedObject.objects.values_list("policy", "cluster")) == {
        (other.pk, prod.pk),
        (policy.pk, staging.pk),
    }


def test_an_object_whose_name_no_cluster_could_hold_is_not_indexed(policy) -> None:
    cluster = ClusterFactory()

    managed_objects.record(policy, cluster, declared(HEAD, ["web", "x" * 300]))

    assert set(index()) == {"web"}
