"""The index of objects Git manages (alignment.ManagedObject), as real scans write it:
every object the scan read from Git, with its source, commit and file; a second scan of
the same commit writes nothing."""

from __future__ import annotations

import pytest

from alignment.models import ManagedObject
from tests.integration.conftest import scan

pytestmark = [pytest.mark.kube, pytest.mark.django_db]


def test_a_scan_indexes_what_git_declares_and_a_rescan_writes_nothing(
    shop_repo, shop_policy, scanner_cluster, kube_namespace
) -> None:
    done = scan(shop_policy, scanner_cluster)

    rows = ManagedObject.objects.filter(policy=shop_policy, cluster=scanner_cluster)
    assert rows.count() == done.objects_desired == 49
    web = rows.get(kind="Deployment", name="frontend")
    assert (web.api_group, web.namespace) == ("apps", kube_namespace)
    assert (web.source, web.revision) == (str(shop_repo.path), done.revision)
    assert web.path.startswith("k8s/") and ":" in web.path
    before = set(rows.values_list("pk", "revision", "path"))

    scan(shop_policy, scanner_cluster)

    assert set(rows.values_list("pk", "revision", "path")) == before
