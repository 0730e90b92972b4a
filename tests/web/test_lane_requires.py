"""The lane form's `requires` fieldset and the Lanes page: what each lane requires of its
namespaces, and whether it holds (open `policy.*` findings in the lane's namespaces)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from drift.models import Lane
from tests.factories import ClusterFactory, FindingFactory, LaneFactory

pytestmark = pytest.mark.django_db


def test_an_admin_sets_what_a_lane_requires_in_its_form(client, admin_user):
    client.force_login(admin_user)
    LaneFactory(name="controlled", namespaces=["shop"])

    saved = client.post(
        reverse("lane-edit", args=["controlled"]),
        {
            "namespaces": "shop",
            "pod_security": "restricted",
            "default_deny": "on",
            "kyverno_policies": "require-labels\n shop/disallow-latest-tag \n",
            "no_cluster_admin": "on",
        },
    )

    assert saved.status_code == 302
    assert Lane.objects.get(name="controlled").requires == {
        "podSecurity": "restricted",
        "defaultDenyNetworkPolicy": True,
        "kyvernoPolicies": ["require-labels", "shop/disallow-latest-tag"],
        "noClusterAdmin": True,
    }
    page = client.get(reverse("lane-edit", args=["controlled"])).content.decode()
    assert '<option value="restricted" selected>' in page
    assert "require-labels\nshop/disallow-latest-tag</textarea>" in page


def test_a_bad_requirement_comes_back_next_to_its_field(client, admin_user):
    client.force_login(admin_user)

    refused = client.post(
        reverse("lane-new"),
        {"name": "controlled", "gatekeeper_constraints": "owner-label"},
    )

    assert refused.status_code == 400
    assert refused.context["form"].errors["gatekeeper_constraints"] == [
        "'owner-label': name a constraint as Kind/name (K8sRequiredLabels/owner-label)"
    ]
    assert not Lane.objects.filter(name="controlled").exists()


def test_the_lanes_page_shows_what_each_lane_requires_and_whether_it_holds(client, viewer):
    client.force_login(viewer)
    east = ClusterFactory(name="east")
    controlled = LaneFactory(
        name="controlled",
        namespaces=["shop"],
        identities=["release-bot"],
        requires={"defaultDenyNetworkPolicy": True, "limitRange": True, "noClusterAdmin": True},
    )
    fast = LaneFactory(name="fast", namespaces=["dev-*"], requires={"limitRange": True})
    east.lanes.add(controlled, fast)

    def violation(rule: str, kind: str, namespace: str, name: str, note: str = "") -> None:
        group = "rbac.authorization.k8s.io" if "Binding" in kind else ""
        evidence = [{"kind": kind, "name": name, "path": "", "note": note}]
        FindingFactory(
            cluster=east, type="alignment", rule=rule, api_group=group, kind=kind,
            namespace=namespace, name=name, diff={"evidence": evidence},
        )  # fmt: skip

    violation("policy.default-deny", "Namespace", "", "shop")
    violation("policy.limit-range", "Namespace", "", "dev-dana")  # the fast lane's
    violation(
        "policy.cluster-admin", "ClusterRoleBinding", "", "release-bot-admin",
        "release-bot, a deployer of lane controlled",
    )  # fmt: skip

    page = client.get(reverse("lanes"))

    rows = {row["lane"].name: row["requires"] for row in page.context["rows"]}
    assert [(r.what, r.open) for r in rows["controlled"]] == [
        ("a default-deny NetworkPolicy", 1),
        ("a LimitRange", 0),
        ("no cluster-admin for its deployers", 1),
    ]
    assert [(r.what, r.holds) for r in rows["fast"]] == [("a LimitRange", False)]
    html = page.content.decode()
    assert (
        f"{reverse('findings')}?type=alignment&amp;rule=policy.default-deny&amp;lane=controlled"
        in html
    )
    assert "holds</span> a LimitRange" in html
