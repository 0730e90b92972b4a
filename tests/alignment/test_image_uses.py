"""What a scan keeps of the images it saw (alignment.image_uses): each scan of a policy on a
cluster replaces its rows, except for kinds it could not list, which are not gone."""

from __future__ import annotations

import pytest

from alignment import image_uses, rules
from alignment.models import ImageUse
from tests.alignment.test_references import objects
from tests.factories import ClusterFactory, DriftPolicyFactory

pytestmark = pytest.mark.django_db

WORKLOADS = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec: {template: {spec: {containers: [{name: web, image: "shop/web:WEB"}]}}}
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: report, namespace: shop}
spec: {jobTemplate: {spec: {template: {spec: {containers: [{name: r, image: "shop/report:1"}]}}}}}
"""


def kept() -> set[tuple[str, str, str]]:
    return set(ImageUse.objects.values_list("kind", "name", "image"))


def test_a_scan_replaces_its_rows_but_keeps_kinds_it_could_not_list() -> None:
    policy, cluster = DriftPolicyFactory(), ClusterFactory()
    lanes = (rules.LaneSpec("controlled", namespaces=("shop",)),)
    first = objects(WORKLOADS.replace("WEB", "1"))
    image_uses.record(policy, cluster, first, lanes, {}, [])

    # The next scan could not list CronJobs: it saw only the Deployment, changed.
    second = {
        k: v for k, v in objects(WORKLOADS.replace("WEB", "2")).items() if k.kind != "CronJob"
    }
    image_uses.record(policy, cluster, second, lanes, {}, [], read={"Deployment"})

    assert kept() == {("Deployment", "web", "shop/web:2"), ("CronJob", "report", "shop/report:1")}
    assert set(ImageUse.objects.values_list("lane", "state")) == {("controlled", "no-requirement")}

    image_uses.record(policy, cluster, second, lanes, {}, [], read={"Deployment", "CronJob"})
    assert kept() == {("Deployment", "web", "shop/web:2")}


def test_a_scan_that_saw_the_same_keeps_the_rows_and_marks_them_seen() -> None:
    policy, cluster = DriftPolicyFactory(), ClusterFactory()
    lanes = (rules.LaneSpec("controlled", namespaces=("shop",)),)
    seen = objects(WORKLOADS.replace("WEB", "1"))
    image_uses.record(policy, cluster, seen, lanes, {}, [])
    rows = dict(ImageUse.objects.values_list("name", "pk"))
    first_seen = set(ImageUse.objects.values_list("seen_at", flat=True))

    image_uses.record(policy, cluster, seen, lanes, {}, [])
    assert dict(ImageUse.objects.values_list("name", "pk")) == rows
    assert set(ImageUse.objects.values_list("seen_at", flat=True)).isdisjoint(first_seen)

    image_uses.record(policy, cluster, objects(WORKLOADS.replace("WEB", "3")), lanes, {}, [])
    now = dict(ImageUse.objects.values_list("name", "pk"))
    assert now["report"] == rows["report"] and now["web"] != rows["web"]
    assert kept() == {("Deployment", "web", "shop/web:3"), ("CronJob", "report", "shop/report:1")}
