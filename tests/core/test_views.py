import pytest
from django.urls import reverse

from drift.models import Cluster, GitSource
from driftcontrol.models import AuditEvent
from tests.factories import ClusterFactory

pytestmark = pytest.mark.django_db
SECRET_KUBECONFIG = "apiVersion: v1\nkind: Config\nusers:\n- name: a\n  user: {token: s3cr3t}\n"


def test_every_page_requires_a_login(client):
    response = client.get(reverse("home"))

    assert response.status_code == 302
    assert response.url == "/login/?next=/"


def test_the_login_page_signs_people_in(client, operator):
    page = client.get(reverse("login"))
    assert page.status_code == 200
    assert b"Sign in to DriftControl" in page.content

    response = client.post(
        reverse("login"), {"username": "oscar", "password": "correct horse battery staple"}
    )

    assert response.status_code == 302
    assert response.url == reverse("home")


def test_a_wrong_password_says_so(client, operator):
    response = client.post(reverse("login"), {"username": "oscar", "password": "nope"})

    assert response.status_code == 200
    assert b"Please enter a correct username and password" in response.content


def test_the_system_page_shows_components_and_the_role(client, operator):
    client.force_login(operator)

    response = client.get(reverse("system-status"))

    assert response.status_code == 200
    text = response.content.decode()
    assert "postgresql: reachable, schema up to date" in text
    assert "Broker" in text and "Workers" in text
    assert "with the <strong>operator</strong> role" in text


def test_a_user_without_a_role_is_refused_with_a_reason(client, outsider):
    client.force_login(outsider)

    response = client.get(reverse("home"))

    assert response.status_code == 403
    assert b"signing in with a DriftControl role is needed" in response.content


def test_unknown_pages_get_a_friendly_404(client, viewer):
    client.force_login(viewer)

    response = client.get("/no/such/page/")

    assert response.status_code == 404
    assert b"There is nothing at this address" in response.content


def test_health_endpoints_need_no_login(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ok"


def test_the_admin_never_renders_stored_credentials(client, admin_user):
    cluster = ClusterFactory(name="east")
    cluster.set_credentials(SECRET_KUBECONFIG)
    cluster.save()
    client.force_login(admin_user)

    page = client.get(reverse("admin:drift_cluster_change", args=[cluster.pk]))

    assert page.status_code == 200
    assert b"s3cr3t" not in page.content
    assert cluster.credentials.encode() not in page.content
    assert b"Leave empty to keep it" in page.content


def test_the_admin_stores_new_credentials_sealed_and_audits_without_the_secret(client, admin_user):
    client.force_login(admin_user)

    response = client.post(
        reverse("admin:drift_cluster_add"),
        {
            "name": "west",
            "labels": "{}",
            "api_server_url": "https://127.0.0.1:7443",
            "context": "",
            "enabled": "on",
            "new_credentials": SECRET_KUBECONFIG,
        },
    )

    assert response.status_code == 302, response.content
    west = Cluster.objects.get(name="west")
    assert west.read_credentials() == SECRET_KUBECONFIG
    event = AuditEvent.objects.get(action="cluster.created")
    assert event.actor == "ada"
    assert "new_credentials" in event.data["changed"]
    assert "s3cr3t" not in str(event.data)


def test_keeping_credentials_empty_in_the_admin_keeps_the_stored_ones(client, admin_user):
    cluster = ClusterFactory(name="east")
    cluster.set_credentials(SECRET_KUBECONFIG)
    cluster.save()
    client.force_login(admin_user)

    client.post(
        reverse("admin:drift_cluster_change", args=[cluster.pk]),
        {
            "name": "east",
            "labels": '{"region": "eu"}',
            "api_server_url": "https://127.0.0.1:6443",
            "context": "",
            "enabled": "on",
            "new_credentials": "",
        },
    )

    cluster.refresh_from_db()
    assert cluster.labels == {"region": "eu"}
    assert cluster.read_credentials() == SECRET_KUBECONFIG


def test_audit_events_are_read_only_in_the_admin(client, admin_user):
    client.force_login(admin_user)
    ClusterFactory()
    from driftcontrol import audit

    event = audit.record(admin_user, "cluster.updated")

    page = client.get(reverse("admin:driftcontrol_auditevent_change", args=[event.pk]))
    assert page.status_code == 200
    assert b'name="_save"' not in page.content
    assert client.get(reverse("admin:driftcontrol_auditevent_add")).status_code == 403


@pytest.mark.parametrize(
    ("field", "value"),
    [("url", "fd::17"), ("url", "file:///etc"), ("ref", "--output=/tmp/x"), ("path", "../..")],
)
def test_the_admin_refuses_git_sources_drift_apply_refuses(client, admin_user, field, value):
    client.force_login(admin_user)
    given = {"name": "shop", "url": "https://git.example.com/shop.git", "ref": "main", "path": ""}

    response = client.post(reverse("admin:drift_gitsource_add"), {**given, field: value})

    assert response.status_code == 200  # the form again, with the error
    assert response.context["adminform"].form.errors[field]
    assert not GitSource.objects.exists()
