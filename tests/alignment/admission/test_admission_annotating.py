"""A drift finding on a change admitted while the webhook was installed but not answering
says so, with the user the audit feed saw make it; nothing is said (nor asked of the
database) where the webhook was never installed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from alignment import annotating
from alignment.models import AdmissionInstallation, AdmissionServer, KubeWrite
from drift.engine.normalize import ObjectKey
from drift.models import FindingType
from drift.services import annotating as core_annotating
from drift.services.ledger import Observation
from tests.factories import ClusterFactory, LaneFactory

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
API = ObjectKey("apps", "Deployment", "shop", "api")


@pytest.fixture(autouse=True)
def _fresh_cache():
    annotating.forget()
    yield
    annotating.forget()


@pytest.fixture
def cluster():
    found = ClusterFactory(name="prod", audit_token_digest="0" * 64)
    found.lanes.add(
        LaneFactory(name="controlled", namespaces=["shop"], admission={"mode": "deny"}),
        LaneFactory(name="fast", namespaces=["sandbox"], admission={"mode": "off"}),
    )
    AdmissionInstallation.objects.create(
        cluster=found,
        name="driftcontrol-admission",
        url="https://admission.example.com/validate/prod",
        mode="deny",
        installed_at=T0,
    )
    # Served for the first ten minutes, then stopped.
    AdmissionServer.objects.create(
        address="0.0.0.0:9443",
        started_at=T0,
        seen_at=T0 + timedelta(minutes=10),
        stopped_at=T0 + timedelta(minutes=10),
    )
    return found


def drifted(key: ObjectKey, *times: str) -> Observation:
    entries = [{"manager": f"manager-{i}", "operation": "Update", "time": time}
               for i, time in enumerate(times)]  # fmt: skip
    return Observation(key, "apps/v1", FindingType.MODIFIED, "high", attribution=entries)


def wrote(cluster, user: str, at: datetime, key: ObjectKey = API, **fields) -> KubeWrite:
    return KubeWrite.objects.create(
        cluster=cluster,
        audit_id=f"{user}-{at.isoformat()}",
        verb=fields.get("verb", "patch"),
        user=user,
        api_group=key.group,
        resource="deployments",
        namespace=key.namespace,
        name=key.name,
        at=at,
    )


def test_a_change_made_while_the_webhook_was_down_says_so_with_its_user(cluster):
    wrote(cluster, "mallory", datetime(2026, 3, 2, 9, 12, 30, 400000, tzinfo=UTC))
    wrote(cluster, "alice", datetime(2026, 3, 2, 9, 5, tzinfo=UTC))  # earlier, while up
    observation = drifted(API, "2026-03-02T09:12:30Z", "2026-03-02T09:05:00Z")

    annotating.annotate(cluster, [observation])

    down, up = observation.attribution
    assert down["admission"] == (
        "admitted while the admission webhook was unavailable (no answer since 09:10:00 UTC); "
        "the audit feed names mallory"
    )
    assert down["admission_user"] == "mallory"
    assert "admission" not in up


def test_without_an_audit_write_near_the_change_no_user_is_named(cluster):
    wrote(cluster, "mallory", datetime(2026, 3, 2, 9, 12, 40, tzinfo=UTC))  # 10 s off
    observation = drifted(API, "2026-03-02T09:12:30Z")

    annotating.annotate(cluster, [observation])

    (entry,) = observation.attribution
    assert entry["admission"] == (
        "admitted while the admission webhook was unavailable (no answer since 09:10:00 UTC)"
    )
    assert "admission_user" not in entry


def test_a_lane_with_admission_off_or_no_lane_gets_no_note(cluster):
    in_fast = drifted(ObjectKey("apps", "Deployment", "sandbox", "api"), "2026-03-02T09:12:30Z")
    in_no_lane = drifted(ObjectKey("apps", "Deployment", "misc", "api"), "2026-03-02T09:12:30Z")

    annotating.annotate(cluster, [in_fast, in_no_lane])

    assert all("admission" not in entry for o in (in_fast, in_no_lane) for entry in o.attribution)


def test_a_change_before_the_install_gets_no_note(cluster):
    observation = drifted(API, "2026-03-02T08:59:00Z")

    annotating.annotate(cluster, [observation])

    assert "admission" not in observation.attribution[0]


def test_a_cluster_that_never_had_the_webhook_costs_one_query_then_none(
    django_assert_num_queries,
):
    elsewhere = ClusterFactory(name="staging")
    observation = drifted(API, "2026-03-02T09:12:30Z")

    with django_assert_num_queries(1):
        annotating.annotate(elsewhere, [observation])
    with django_assert_num_queries(0):
        annotating.annotate(elsewhere, [observation])

    assert "admission" not in observation.attribution[0]


def test_the_core_finds_alignments_annotation_by_name(cluster):
    observation = drifted(API, "2026-03-02T09:12:30Z")

    core_annotating.annotate(cluster, [observation])

    assert observation.attribution[0]["admission"].startswith("admitted while")
