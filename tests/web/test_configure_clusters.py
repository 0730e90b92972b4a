"""Clusters and lanes configured in the browser: admins only, saved as documents through
the configuration service, problems shown next to the fields they name."""

from __future__ import annotations

import re
import socket
import time
from typing import Any

import pytest
import yaml
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from dashboard.forms.configure_clusters import ClusterForm
from drift.engine.rules import Problem
from drift.models import Cluster, Lane
from drift.services import access
from driftcontrol.models import AuditEvent
from tests.factories import LaneFactory

pytestmark = pytest.mark.django_db

TOKEN = "s3cret-t0ken-never-shown-back"
# Nothing listens on port 1: the connection test fails at once, without a cluster.
KUBECONFIG = f"""\
apiVersion: v1
kind: Config
clusters:
- name: east
  cluster:
    server: https://127.0.0.1:1
    insecure-skip-tls-verify: true
users:
- name: drift
  user:
    token: {TOKEN}
contexts:
- name: east
  context: {{cluster: east, user: drift}}
current-context: east
"""


def upload(text: str = KUBECONFIG) -> SimpleUploadedFile:
    return SimpleUploadedFile("kubeconfig.yaml", text.encode(), "application/yaml")


def form_data(**fields: Any) -> dict[str, Any]:
    data = {"name": "north", "labels": "env=prod\nregion = eu", "context": "", "enabled": "on"}
    data.update(fields)
    return {k: v for k, v in data.items() if v is not None}


@pytest.fixture
def fast(db: None) -> Lane:
    return LaneFactory(name="fast", namespaces=["shop-*"])


@pytest.fixture
def stored(fast: Lane) -> Cluster:
    cluster = Cluster.objects.create(
        name="east", labels={"env": "prod"}, context="east", api_server_url="https://127.0.0.1:1"
    )
    cluster.set_credentials(KUBECONFIG)
    cluster.save()
    cluster.lanes.add(fast)
    return cluster


def test_only_admins_configure_clusters_and_lanes(client, operator, stored):
    client.force_login(operator)
    urls = [
        reverse("cluster-new"),
        reverse("cluster-edit", args=["east"]),
        reverse("lane-new"),
        reverse("lane-edit", args=["fast"]),
    ]

    assert [client.get(url).status_code for url in urls] == [403] * 4
    assert client.post(reverse("cluster-new"), form_data(kubeconfig=KUBECONFIG)).status_code == 403
    assert client.post(reverse("cluster-connection-test"), {}).status_code == 403
    assert client.post(reverse("lane-new"), {"name": "slow"}).status_code == 403
    assert not Cluster.objects.filter(name="north").exists()
    assert not Lane.objects.filter(name="slow").exists()
    for page in ("clusters", "lanes"):
        assert b"Add " not in client.get(reverse(page)).content
    assert (
        reverse("cluster-edit", args=["east"]).encode()
        not in client.get(reverse("cluster", args=["east"])).content
    )


def test_admins_see_the_add_and_edit_buttons(client, admin_user, stored):
    client.force_login(admin_user)

    assert reverse("cluster-new").encode() in client.get(reverse("clusters")).content
    detail = client.get(reverse("cluster", args=["east"])).content
    assert reverse("cluster-edit", args=["east"]).encode() in detail
    lanes = client.get(reverse("lanes")).content
    assert reverse("lane-new").encode() in lanes
    assert reverse("lane-edit", args=["fast"]).encode() in lanes


def test_an_admin_adds_a_cluster_with_an_uploaded_kubeconfig(client, admin_user, fast):
    client.force_login(admin_user)

    response = client.post(
        reverse("cluster-new"),
        form_data(lanes=["fast"], context="east", kubeconfig_file=upload()),
        follow=True,
    )

    assert response.redirect_chain == [(reverse("cluster", args=["north"]), 302)]
    assert b"Cluster north is created." in response.content
    cluster = Cluster.objects.get(name="north")
    assert cluster.labels == {"env": "prod", "region": "eu"}
    assert [lane.name for lane in cluster.lanes.all()] == ["fast"]
    assert (cluster.context, cluster.enabled) == ("east", True)
    assert cluster.read_credentials() == KUBECONFIG
    assert cluster.api_server_url == "https://127.0.0.1:1"
    event = AuditEvent.objects.get(action="cluster.created")
    assert event.actor == "ada" and event.data["via"] == "dashboard"


def test_an_edit_keeps_the_stored_kubeconfig_and_never_shows_it(client, admin_user, stored):
    client.force_login(admin_user)

    page = client.get(reverse("cluster-edit", args=["east"]))
    assert page.status_code == 200
    assert TOKEN.encode() not in page.content
    assert b'value="fast" id="id_lanes_0" checked' in page.content
    response = client.post(
        reverse("cluster-edit", args=["east"]),
        {"labels": "env=staging", "context": "east", "kubeconfig": ""},
    )

    assert response.status_code == 302
    stored.refresh_from_db()
    assert stored.labels == {"env": "staging"}
    assert stored.enabled is False and list(stored.lanes.all()) == []  # unticked, all of them
    assert stored.read_credentials() == KUBECONFIG
    event = AuditEvent.objects.get(action="cluster.updated")
    assert event.data == {"via": "dashboard", "changed": ["enabled", "labels", "lanes"]}


def test_a_pasted_kubeconfig_replaces_the_stored_one(client, admin_user, stored):
    client.force_login(admin_user)
    other = KUBECONFIG.replace(TOKEN, "another-token")

    client.post(reverse("cluster-edit", args=["east"]), form_data(kubeconfig=other, name=None))

    stored.refresh_from_db()
    assert stored.read_credentials() == other


def test_bad_input_shows_each_problem_next_to_its_field_and_keeps_what_was_typed(
    client, admin_user, fast
):
    client.force_login(admin_user)
    wrong_context = "gone"

    response = client.post(
        reverse("cluster-new"),
        form_data(
            labels="env=prod\nbroken",
            context=wrong_context,
            lanes=["fast"],
            kubeconfig_file=upload(),
        ),
    )

    assert response.status_code == 400
    form = response.context["form"]
    assert form.errors == {"labels": ["line 2: write key=value"]}
    html = response.content.decode()
    assert 'aria-describedby="id_labels_helptext id_labels_error"' in html
    assert 'id="id_labels_error"' in html and 'aria-invalid="true"' in html
    assert "env=prod\nbroken</textarea>" in html
    assert 'value="gone"' in html and 'value="fast" id="id_lanes_0" checked' in html
    assert "choose it again" in html
    assert not Cluster.objects.exists()

    # The labels corrected, the service finds the context the kubeconfig lacks.
    response = client.post(
        reverse("cluster-new"),
        form_data(context=wrong_context, kubeconfig_file=upload()),
    )

    assert response.status_code == 400
    errors = response.context["form"].errors
    assert list(errors) == ["kubeconfig"]
    assert "no context is named 'gone'" in errors["kubeconfig"][0]
    assert 'id="id_kubeconfig_error"' in response.content.decode()
    assert not Cluster.objects.exists() and not AuditEvent.objects.exists()


def test_a_new_cluster_needs_a_kubeconfig_and_a_free_name(client, admin_user, stored):
    client.force_login(admin_user)

    missing = client.post(reverse("cluster-new"), form_data())
    taken = client.post(reverse("cluster-new"), form_data(name="east", kubeconfig=KUBECONFIG))
    badly_named = client.post(reverse("cluster-new"), form_data(name="North_1"))

    assert missing.status_code == taken.status_code == badly_named.status_code == 400
    assert missing.context["form"].errors == {"kubeconfig": ["is required for a new cluster"]}
    assert "exists already" in taken.context["form"].errors["name"][0]
    assert "DNS label" in badly_named.context["form"].errors["name"][0]
    stored.refresh_from_db()
    assert stored.labels == {"env": "prod"}  # "Add" never replaces a cluster


def test_a_one_line_kubeconfig_is_refused_as_a_path(client, admin_user):
    client.force_login(admin_user)

    response = client.post(reverse("cluster-new"), form_data(kubeconfig="/etc/passwd"))

    assert response.status_code == 400
    assert response.context["form"].errors == {
        "kubeconfig": ["give the kubeconfig's content (YAML), not a file path"]
    }


def test_problem_paths_land_on_their_fields_or_above_the_form(fast):
    form = ClusterForm({"name": "x", "labels": ""})
    assert form.is_valid()

    form.add_problems(
        [
            Problem("spec.lanes[0]", "no Lane named 'slow'"),
            Problem("metadata.labels", "must map label names to strings"),
            Problem("spec.kubeconfig", "users[0].user.exec: not allowed"),
            Problem("document", "unreadable"),
        ]
    )

    assert form.errors == {
        "lanes": ["no Lane named 'slow'"],
        "labels": ["must map label names to strings"],
        "kubeconfig": ["users[0].user.exec: not allowed"],
        "__all__": ["document: unreadable"],
    }


def test_the_connection_test_answers_htmx_with_a_panel(client, admin_user):
    client.force_login(admin_user)

    response = client.post(
        reverse("cluster-connection-test"),
        form_data(kubeconfig_file=upload()),
        headers={"HX-Request": "true"},
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html
    assert "https://127.0.0.1:1 refused the connection" in html
    assert "The connection test failed." in html
    assert not Cluster.objects.exists()


def test_the_connection_test_without_htmx_renders_the_whole_form(client, admin_user, stored):
    client.force_login(admin_user)

    response = client.post(
        reverse("cluster-connection-test"),
        {"editing": "east", "labels": "env=prod", "context": "east"},
    )

    assert response.status_code == 200
    assert response.context["report"].stored  # none given: the stored one was tried
    html = response.content.decode()
    assert "<h1>Edit cluster east</h1>" in html
    assert "refused the connection" in html and TOKEN not in html


def test_a_server_that_never_answers_is_given_up_on_within_seconds(client, admin_user):
    client.force_login(admin_user)
    # It listens but never accepts: the TCP handshake succeeds, TLS never starts, as
    # behind a firewall that drops packets on the floor.
    with socket.create_server(("127.0.0.1", 0)) as silent:
        server = f"https://127.0.0.1:{silent.getsockname()[1]}"
        started = time.monotonic()
        response = client.post(
            reverse("cluster-connection-test"),
            form_data(kubeconfig=KUBECONFIG.replace("https://127.0.0.1:1", server)),
            headers={"HX-Request": "true"},
        )
        waited = time.monotonic() - started

    assert waited < sum(access.TIMEOUT) + 1
    assert f"{server} did not answer within 3 seconds" in response.content.decode()


def test_the_connection_test_says_what_is_wrong_with_the_kubeconfig(client, admin_user, stored):
    client.force_login(admin_user)
    runs_a_command = yaml.safe_load(KUBECONFIG)
    runs_a_command["users"][0]["user"] = {
        "exec": {"apiVersion": "client.authentication.k8s.io/v1beta1", "command": "/bin/sh"}
    }
    htmx = {"HX-Request": "true"}
    test = reverse("cluster-connection-test")

    # Adding a cluster, its name that of a stored one: that one's kubeconfig is not used.
    nothing = client.post(test, form_data(name="east"), headers=htmx).content.decode()
    refused = client.post(
        test, form_data(kubeconfig=yaml.safe_dump(runs_a_command)), headers=htmx
    ).content.decode()
    a_path = client.post(test, form_data(kubeconfig="~/.kube/config"), headers=htmx)

    assert "Give a kubeconfig to test" in nothing
    assert "The kubeconfig cannot be used on this server" in refused
    assert re.search(r"users\[0\].*exec", refused)
    assert "not a file path" in a_path.content.decode()


def test_an_admin_adds_and_edits_a_lane(client, admin_user, stored):
    client.force_login(admin_user)

    created = client.post(
        reverse("lane-new"),
        {
            "name": "slow",
            "description": "Change-managed releases",
            "namespaces": "billing\n\n ledger-* ",
            "identities": "system:serviceaccount:argocd:argocd-application-controller",
            "branches": "release",
        },
        follow=True,
    )
    assert created.redirect_chain == [(reverse("lanes"), 302)]
    assert b"Lane slow is created." in created.content
    lane = Lane.objects.get(name="slow")
    assert lane.namespaces == ["billing", "ledger-*"] and lane.branches == ["release"]

    page = client.get(reverse("lane-edit", args=["fast"]))
    assert b"shop-*</textarea>" in page.content
    assert reverse("cluster-edit", args=["east"]).encode() in page.content  # its clusters
    client.post(reverse("lane-edit", args=["fast"]), {"namespaces": "shop\nshop-canary"})

    fast = Lane.objects.get(name="fast")
    assert fast.namespaces == ["shop", "shop-canary"] and fast.description == ""
    assert [c.name for c in fast.clusters.all()] == ["east"]  # the clusters keep it
    actions = AuditEvent.objects.values_list("action", "data__via").order_by("pk")
    assert list(actions) == [("lane.created", "dashboard"), ("lane.updated", "dashboard")]


def test_a_lane_name_is_checked_like_any_document(client, admin_user, stored):
    client.force_login(admin_user)

    bad = client.post(reverse("lane-new"), {"name": "Fast Lane", "namespaces": "a"})
    taken = client.post(reverse("lane-new"), {"name": "fast"})

    assert bad.status_code == taken.status_code == 400
    assert "DNS label" in bad.context["form"].errors["name"][0]
    assert b">\na</textarea>" in bad.content
    assert "exists already" in taken.context["form"].errors["name"][0]
    assert Lane.objects.get(name="fast").namespaces == ["shop-*"]
