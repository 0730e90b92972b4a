"""What the admission webhook decided on a small fleet, made with the models as its
recorder, install and server write them: the page's, the API's and the browser's tests
read the same numbers."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

from alignment.admission import latency
from alignment.models import (
    AdmissionDecision,
    AdmissionInstallation,
    AdmissionServer,
    AdmissionTally,
)
from drift.models import Cluster
from tests.factories import ClusterFactory, LaneFactory

DEPLOYER_RULE = "lane.deployer"
BREAK_GLASS = "lane.break-glass"
REFUSED = (
    "lane controlled refuses this change: lane.deployer: apps/Deployment shop/web is "
    "managed by Git (deploy@9f2c1e7, k8s/web.yaml): change it there"
)


def histogram(**counts: int) -> list[int]:
    """A latency histogram: counts by the bound (in ms, as "ms_2" for 2.0) they fall under."""
    buckets = latency.empty()
    for name, n in counts.items():
        buckets[latency.bucket(float(name.removeprefix("ms_").replace("_", ".")))] += n
    return buckets


def tally(cluster: Cluster, ago: timedelta, lane: str, outcome: str, n: int, **more: Any) -> Any:
    """What the recorder counts of one minute: by default every decision under 1 ms."""
    minute = (timezone.now() - ago).replace(second=0, microsecond=0)
    fields = {"latency_buckets": histogram(ms_1=n), "latency_sum_ms": 0.7 * n, **more}
    return AdmissionTally.objects.create(
        minute=minute, cluster=cluster, lane=lane, outcome=outcome, count=n, **fields
    )


def decision(cluster: Cluster, ago: timedelta, outcome: str, rules: list[str], **more: Any) -> Any:
    fields = {
        "lane": "controlled",
        "message": REFUSED,
        "user": "mallory@example.com",
        "groups": ["devs", "system:authenticated"],
        "operation": "UPDATE",
        "api_group": "apps",
        "kind": "Deployment",
        "namespace": "shop",
        "name": "web",
        "latency_ms": 0.8,
        **more,
    }
    uid = f"uid-{AdmissionDecision.objects.count() + 1}"
    return AdmissionDecision.objects.create(
        at=timezone.now() - ago, cluster=cluster, outcome=outcome, rules=rules, uid=uid, **fields
    )


def admission_fleet() -> dict[str, Any]:
    """East runs lane controlled, installed in warn mode a day ago; west (lane fast) had it
    removed. Over the last hour east's webhook allowed 40 changes, warned about 2 (alice),
    refused 3 (mallory) and let one through for group sre (sam); west allowed 20. Three
    days ago: a refusal on west, and east allowed 5 changes outside any lane. One server
    answers now; an earlier one stopped."""
    controlled = LaneFactory(name="controlled", namespaces=["shop"])
    fast = LaneFactory(name="fast", namespaces=["dev-*"])
    east, west = ClusterFactory(name="east"), ClusterFactory(name="west")
    east.lanes.add(controlled)
    west.lanes.add(fast)
    minutes, hours, days = timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)
    slow = histogram(ms_1=30, ms_2=8, ms_5=1, ms_50=1)
    tally(east, 5 * minutes, "controlled", "allow", 40, latency_buckets=slow, dry_runs=2)
    tally(east, 5 * minutes, "controlled", "warn", 2)
    tally(east, 4 * minutes, "controlled", "deny", 3)
    tally(east, 30 * minutes, "controlled", "break-glass", 1)
    tally(west, 10 * minutes, "fast", "allow", 20)
    tally(east, 3 * days, "", "allow", 5)
    tally(west, 3 * days, "fast", "deny", 1)
    second = timedelta(seconds=1)
    for n in range(2):
        decision(east, 5 * minutes + n * second, "warn", [DEPLOYER_RULE], user="alice",
                 groups=["system:authenticated"], message="lane.deployer: in Git")  # fmt: skip
    for n in range(3):
        decision(east, 4 * minutes + n * second, "deny", [DEPLOYER_RULE, "lane.registry"])
    decision(east, 30 * minutes, "break-glass", [BREAK_GLASS, DEPLOYER_RULE], user="sam",
             groups=["sre", "system:authenticated"], operation="PATCH", subresource="scale",
             message="sam changed apps/Deployment shop/web through break-glass")  # fmt: skip
    decision(west, 3 * days, "deny", ["lane.secret"], lane="fast", namespace="dev-shop",
             api_group="", kind="Pod", name="", operation="CREATE",
             message="lane fast refuses this change: lane.secret: shop-db")  # fmt: skip
    now = timezone.now()
    AdmissionInstallation.objects.create(
        cluster=east, name="driftcontrol-admission", url="https://127.0.0.1:9443/validate/east",
        mode="warn", namespaces=["shop"], installed_by="admin", installed_at=now - days,
    )  # fmt: skip
    AdmissionInstallation.objects.create(
        cluster=west, name="driftcontrol-admission", url="https://127.0.0.1:9443/validate/west",
        mode="deny", installed_at=now - 4 * days, removed_at=now - 2 * days,
    )  # fmt: skip
    AdmissionServer.objects.create(
        address="0.0.0.0:9443", hostname="admission-1", pid=7, started_at=now - 2 * days,
        seen_at=now - 2 * days + hours, stopped_at=now - 2 * days + hours,
    )  # fmt: skip
    AdmissionServer.objects.create(
        address="0.0.0.0:9443", hostname="admission-2", pid=8, started_at=now - hours,
        seen_at=now - timedelta(seconds=1),
    )  # fmt: skip
    return {"east": east, "west": west}
