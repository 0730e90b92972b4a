"""`drift admission install|uninstall|status`: clear errors with exit 1 before anything is
written, and the state of the webhook at a glance."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from alignment.models import AdmissionCertificate, AdmissionInstallation, AdmissionServer
from tests.factories import ClusterFactory

pytestmark = pytest.mark.django_db
UNREACHABLE_KUBECONFIG = """apiVersion: v1
kind: Config
clusters: [{name: x, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: x, user: {token: t}}]
contexts: [{name: x, context: {cluster: x, user: x}}]
current-context: x
"""


def drift(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("drift", *args, stdout=out, stderr=err)
        code = 0
    except SystemExit as exit:
        code = int(exit.code or 0)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("command", ["install", "uninstall"])
def test_an_unknown_cluster_is_named(command):
    code, _, err = drift("admission", command, "--cluster", "nowhere")

    assert code == 1
    assert "no cluster named 'nowhere'" in err


def test_a_plain_http_url_is_refused_before_the_cluster_is_asked():
    cluster = ClusterFactory(name="prod")

    code, _, err = drift(
        "admission", "install", "--cluster", "prod", "--url", "http://10.0.0.5:9443"
    )

    assert code == 1
    assert "must be https://HOST[:PORT]" in err
    assert not AdmissionInstallation.objects.filter(cluster=cluster).exists()


def test_an_unreachable_cluster_is_named_and_nothing_is_recorded(settings):
    settings.ADMISSION_PUBLIC_URL = "https://admission.example.com:9443"
    cluster = ClusterFactory(name="prod")
    cluster.set_credentials(UNREACHABLE_KUBECONFIG)
    cluster.save()

    code, _, err = drift("admission", "install", "--cluster", "prod")

    assert code == 1
    assert "cannot reach cluster prod to install the admission webhook" in err
    assert "127.0.0.1:1" in err
    assert not AdmissionInstallation.objects.exists()


def test_status_says_where_the_webhook_is_installed_and_whether_it_answers(settings):
    settings.ADMISSION_HEARTBEAT_SECONDS = 2
    now = timezone.now()
    AdmissionInstallation.objects.create(
        cluster=ClusterFactory(name="prod"),
        name="driftcontrol-admission",
        url="https://admission.example.com:9443/validate/prod",
        mode="warn",
        namespaces=["shop", "payments"],
        installed_by="cli:ops",
        installed_at=now - timedelta(days=1),
    )
    AdmissionInstallation.objects.create(  # removed: history only
        cluster=ClusterFactory(name="staging"),
        name="driftcontrol-admission",
        url="https://admission.example.com:9443/validate/staging",
        mode="deny",
        installed_at=now - timedelta(days=3),
        removed_at=now - timedelta(days=2),
    )
    AdmissionCertificate.objects.create(
        role="serving",
        certificate_pem="-",
        private_key="-",
        hosts=["127.0.0.1", "admission.example.com"],
        not_before=now - timedelta(days=1),
        not_after=now + timedelta(days=89, hours=1),
    )
    AdmissionServer.objects.create(
        address="0.0.0.0:9443", hostname="web-1", started_at=now, seen_at=now
    )

    code, out, _ = drift("admission", "status")

    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith(
        "prod\tdriftcontrol-admission\tmode warn\thttps://admission.example.com:9443/validate/"
        "prod\t2 namespace(s)\tsince "
    )
    assert lines[0].endswith("by cli:ops")
    assert "staging" not in out
    assert "(89 days), for 127.0.0.1, admission.example.com" in lines[1]
    assert lines[2].startswith("server: 0.0.0.0:9443 on web-1, last heartbeat ")
    assert lines[2].endswith("(answering)")


def test_status_of_a_cluster_without_the_webhook():
    ClusterFactory(name="prod")

    code, out, _ = drift("admission", "status", "--cluster", "prod")

    assert code == 0
    assert "the admission webhook is not installed on cluster prod" in out
    assert "serving certificate: none yet" in out
    assert "server: `drift admission serve` has never run" in out
