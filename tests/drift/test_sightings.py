"""A re-scan that sees the same drift writes no finding rows (drift.services.ledger with
ScopeSighting), and every figure read from findings stays exact: last seen and last scan
in the UI and the API, MTTD, MTTR, scores."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.urls import reverse

from drift.engine.normalize import ObjectKey
from drift.models import Cluster, DriftPolicy, Finding, FindingStatus, Scan, ScopeSighting
from drift.services import analytics, ledger
from drift.services.ledger import Observation
from tests.factories import ClusterFactory, DriftPolicyFactory, ScanFactory

pytestmark = pytest.mark.django_db

WEB = ObjectKey("apps", "Deployment", "shop", "web")
API = ObjectKey("apps", "Deployment", "shop", "api")
STARTED = "2026-12-01T09:00:00Z"


def everything(key: ObjectKey) -> bool:
    return True


def nothing(key: ObjectKey) -> bool:
    return False


def seen(key: ObjectKey = WEB, paths: tuple[str, ...] = ("/spec/replicas",)) -> Observation:
    return Observation(
        key, "apps/v1", "modified", "high", {"paths": list(paths)}, drift_started_at=STARTED
    )


@pytest.fixture
def cluster() -> Cluster:
    return ClusterFactory(name="prod-eu")


@pytest.fixture
def policy() -> DriftPolicy:
    return DriftPolicyFactory(name="shop")


@pytest.fixture
def passes(policy: DriftPolicy, cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Record one complete pass at a given minute after 10:00, as a new scan."""
    base = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)

    def record(minute: int, observations: list[Observation], known: Any = everything) -> Scan:
        moment = base + timedelta(minutes=minute)
        monkeypatch.setattr(ledger.timezone, "now", lambda: moment)
        scan = ScanFactory(policy=policy, cluster=cluster, status="succeeded")
        ledger.record(policy, cluster, observations, known, scan)
        return scan

    yield record


def at(minute: int) -> datetime:
    return datetime(2026, 12, 1, 10, minute, tzinfo=UTC)


def rows_written() -> int:
    """Finding rows inserted, updated or deleted so far in this test's transaction."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT n_tup_ins + n_tup_upd + n_tup_del FROM pg_stat_xact_user_tables "
            "WHERE relname = 'drift_finding'"
        )
        return int(cursor.fetchone()[0])


def test_a_rescan_with_unchanged_drift_writes_no_finding_rows(passes: Any) -> None:
    # The counters cover the whole transaction, which may hold more than this test.
    baseline = rows_written()
    passes(0, [seen(WEB), seen(API)])
    opened = rows_written() - baseline
    before = {f.pk: f.updated_at for f in Finding.objects.all()}

    second = passes(2, [seen(WEB), seen(API)])

    assert (opened, rows_written() - baseline) == (2, 2)
    found = Finding.objects.order_by("name")
    assert [(f.last_seen, f.last_scan_id) for f in found] == [(at(2), second.pk)] * 2
    assert {f.pk: f.updated_at for f in found} == before
    assert ScopeSighting.objects.get().seen_at == at(2)


def test_a_changed_diff_is_still_written(passes: Any) -> None:
    passes(0, [seen(WEB), seen(API)])
    written = rows_written()

    second = passes(2, [seen(WEB, ("/spec/replicas", "/spec/template")), seen(API)])

    assert rows_written() == written + 1
    web = Finding.objects.get(name="web")
    assert web.diff == {"paths": ["/spec/replicas", "/spec/template"]}
    assert (web.updated_at, web.sighted_at, web.last_seen, web.last_scan_id) == (
        at(2),
        at(2),
        at(2),
        second.pk,
    )


def test_last_seen_and_last_scan_are_exact_in_the_ui_and_the_api(
    passes: Any, client: Any, viewer: Any
) -> None:
    passes(0, [seen(WEB), seen(API)])
    passes(2, [seen(WEB), seen(API)])
    third = passes(5, [seen(WEB), seen(API, ("/spec/template",))])
    web = Finding.objects.get(name="web")
    client.force_login(viewer)

    listed = client.get("/api/v1/findings/", {"ordering": "-last_seen"}).json()["results"]
    detail = client.get(f"/api/v1/findings/{web.pk}/").json()
    page = client.get(reverse("finding", args=[web.pk])).content.decode()
    scan_page = client.get(reverse("scan", args=[third.pk])).content.decode()

    # Both seen at 10:05 (web by the scope, api by its own change): the later id first.
    assert [(f["name"], f["last_seen"]) for f in listed] == [
        ("api", "2026-12-01T10:05:00Z"),
        ("web", "2026-12-01T10:05:00Z"),
    ]
    assert (detail["last_seen"], detail["last_scan"]) == ("2026-12-01T10:05:00Z", third.pk)
    assert '<time datetime="2026-12-01T10:05:00+00:00">' in page
    assert f"scan #{third.pk}" in page
    assert f'href="{reverse("finding", args=[web.pk])}"' in scan_page


def test_the_newest_sighting_sorts_first_whether_a_scope_or_a_row_holds_it(
    policy: DriftPolicy, cluster: Cluster, passes: Any, client: Any, viewer: Any
) -> None:
    other = DriftPolicyFactory(name="other")
    passes(0, [seen(WEB)])
    ledger.record(other, cluster, [seen(API)], everything)  # at 10:00 too
    passes(7, [seen(WEB)])  # the shop policy's scope moves on, its row does not
    client.force_login(viewer)

    newest = client.get("/api/v1/findings/").json()["results"]
    oldest = client.get("/api/v1/findings/", {"ordering": "last_seen"}).json()["results"]

    assert [f["name"] for f in newest] == ["web", "api"]
    assert [f["name"] for f in oldest] == ["api", "web"]


def test_a_finding_a_complete_pass_cannot_vouch_for_keeps_its_real_last_sighting(
    passes: Any,
) -> None:
    passes(0, [seen(WEB)])
    second = passes(2, [seen(WEB)])
    # Its kind could not be read: neither seen nor resolved.
    passes(4, [], known=nothing)
    stuck = Finding.objects.get()
    assert (stuck.status, stuck.follows_scope) == (FindingStatus.OPEN, False)
    assert (stuck.last_seen, stuck.last_scan_id) == (at(2), second.pk)

    passes(6, [], known=nothing)
    assert Finding.objects.get().last_seen == at(2)

    back = passes(8, [seen(WEB)])
    again = Finding.objects.get()
    assert (again.last_seen, again.last_scan_id, again.follows_scope) == (at(8), back.pk, True)


def test_a_resolved_finding_keeps_the_last_sighting_its_scope_vouched_for(passes: Any) -> None:
    passes(0, [seen(WEB)])
    second = passes(3, [seen(WEB)])

    passes(9, [])

    resolved = Finding.objects.get()
    assert resolved.status == FindingStatus.RESOLVED
    assert (resolved.last_seen, resolved.last_scan_id) == (at(3), second.pk)
    assert (resolved.sighted_at, resolved.resolved_at) == (at(3), at(9))


def test_mttd_mttr_and_scores_are_the_same_however_often_the_drift_is_seen(
    passes: Any,
) -> None:
    passes(0, [seen(WEB), seen(API)])
    figures = (analytics.mttd(at(0), at(59)), analytics.score())
    assert figures[0].median == 3600  # changed at 09:00, seen at 10:00

    for minute in (2, 4, 6):
        passes(minute, [seen(WEB), seen(API)])
    assert (analytics.mttd(at(0), at(59)), analytics.score()) == figures

    passes(8, [seen(WEB)])
    mttr = analytics.mttr(at(0), at(59))
    assert (mttr.median, mttr.count) == (8 * 60, 1)


def test_a_watch_event_that_sees_the_same_drift_writes_nothing(
    policy: DriftPolicy, cluster: Cluster, passes: Any
) -> None:
    passes(0, [seen(WEB)])
    written = rows_written()

    ledger.record(policy, cluster, [seen(WEB)], known=lambda k: k == WEB, resolve_scope=[WEB])

    assert rows_written() == written
    assert ScopeSighting.objects.get().seen_at == at(0)  # one object is no complete pass


def test_drift_seen_on_a_finding_resolved_meanwhile_opens_a_new_episode(
    passes: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    passes(0, [seen(WEB)])
    locking = ledger._lock_open

    def resolved_first(pks: list[int]) -> set[int]:
        # A watch event resolves the finding between the pass's read and its write.
        Finding.objects.filter(pk__in=pks).update(status=FindingStatus.RESOLVED)
        return locking(pks)

    monkeypatch.setattr(ledger, "_lock_open", resolved_first)

    passes(2, [seen(WEB, ("/spec/template",))])

    episodes = Finding.objects.order_by("pk")
    assert [(f.status, f.occurrences) for f in episodes] == [
        (FindingStatus.RESOLVED, 1),
        (FindingStatus.OPEN, 2),
    ]
    assert episodes[1].diff == {"paths": ["/spec/template"]}


def test_a_page_found_by_id_first_is_the_slice_of_the_same_order(passes: Any) -> None:
    passes(0, [seen(ObjectKey("apps", "Deployment", "shop", f"app-{n}")) for n in range(5)])
    passes(3, [seen(ObjectKey("apps", "Deployment", "shop", f"app-{n}")) for n in (1, 3)])
    rows = Finding.objects.select_related("cluster").order_by("-last_seen", "-pk")

    assert rows.page(1, 4) == list(rows[1:4])
    assert [f.name for f in rows.page(0, 2)] == ["app-3", "app-1"]


def test_the_working_sets_last_seen_sorts_from_one_covering_index(passes: Any) -> None:
    passes(0, [seen(WEB), seen(API)])
    ids = (
        Finding.objects.filter(status__in=[FindingStatus.OPEN, FindingStatus.ACKNOWLEDGED])
        .order_by("-severity_rank", "-last_seen", "-pk")
        .values_list("pk", flat=True)[:50]
    )
    sql, params = ids.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        # Only an index holding every column the query reads remains possible.
        cursor.execute("SET LOCAL enable_indexscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())

    assert "Index Only Scan using finding_open_sighting on drift_finding" in plan, plan
