"""The webhook's certificates as the database keeps them (alignment.admission.authority):
made once, keys sealed, renewed under the same CA before expiry or for a new host,
audited without keys, and one CA however many servers start at once."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from alignment.admission import authority
from alignment.admission.certs import Issued, names
from alignment.models import AdmissionCertificate, AdmissionInstallation
from driftcontrol.models import AuditEvent
from tests.alignment.admission.test_admission_certs import handshake
from tests.factories import ClusterFactory

pytestmark = pytest.mark.django_db


def as_issued(serving: authority.Serving) -> Issued:
    return Issued(serving.certificate_pem, serving.private_key_pem, timezone.now(), timezone.now())


def test_the_first_call_makes_a_ca_and_a_serving_certificate_a_client_trusts(
    settings: Any, tmp_path: Path
) -> None:
    settings.ADMISSION_HOSTS = ["127.0.0.1", "localhost"]
    settings.ADMISSION_PUBLIC_URL = "https://admission.example.com:9443"

    serving = authority.current()

    ca = Issued(serving.ca_pem, "", timezone.now(), timezone.now())
    assert handshake(as_issued(serving), ca, "127.0.0.1", tmp_path)
    assert handshake(as_issued(serving), ca, "admission.example.com", tmp_path)
    assert AdmissionCertificate.objects.filter(role="ca").count() == 1
    row = AdmissionCertificate.objects.get(role="serving")
    assert row.hosts == ["127.0.0.1", "admission.example.com", "localhost"]
    assert row.issuer == AdmissionCertificate.objects.get(role="ca")
    assert serving.not_after == row.not_after
    assert row.not_after - timezone.now() > timedelta(days=settings.ADMISSION_CERT_DAYS - 1)


def test_private_keys_are_sealed_and_never_audited() -> None:
    serving = authority.current(["127.0.0.1"])

    stored = AdmissionCertificate.objects.values_list("private_key", flat=True)
    assert all("PRIVATE KEY" not in key for key in stored)
    events = AuditEvent.objects.filter(action="admission.certificate_issued").order_by("sequence")
    assert [(e.actor, e.data["role"], e.data["hosts"]) for e in events] == [
        ("system:admission", "ca", []),
        ("system:admission", "serving", ["127.0.0.1"]),
    ]
    assert events[1].data["not_after"] == serving.not_after.isoformat()
    assert all("PRIVATE" not in str(e.data) for e in events)


def test_later_calls_answer_the_same_certificate_without_writing() -> None:
    first = authority.current(["127.0.0.1"])

    assert authority.current(["127.0.0.1"]) == first
    assert AdmissionCertificate.objects.count() == 2


def test_a_serving_certificate_due_for_renewal_is_replaced_under_the_same_ca(
    settings: Any,
) -> None:
    settings.ADMISSION_CERT_RENEW_DAYS = 30
    first = authority.current(["127.0.0.1"])
    AdmissionCertificate.objects.filter(role="serving").update(
        not_after=timezone.now() + timedelta(days=29)
    )

    renewed = authority.current(["127.0.0.1"])

    assert renewed.certificate_pem != first.certificate_pem
    assert renewed.ca_pem == first.ca_pem
    assert AdmissionCertificate.objects.filter(role="ca").count() == 1
    assert AdmissionCertificate.objects.filter(role="serving").count() == 2


def test_a_host_missing_from_the_certificate_gets_a_new_one_that_names_it() -> None:
    first = authority.current(["127.0.0.1"])

    second = authority.current(["127.0.0.1", "webhook.example.com"])

    assert names(second.certificate_pem) == {"127.0.0.1", "webhook.example.com"}
    assert second.ca_pem == first.ca_pem
    # The wider one serves the narrower need too.
    assert authority.current(["127.0.0.1"]) == second


def test_the_ca_bundle_holds_every_ca_still_valid(settings: Any) -> None:
    authority.current(["127.0.0.1"])
    old = AdmissionCertificate.objects.get(role="ca")
    # The CA is about to expire: a new one signs from now on, the old one is still trusted.
    AdmissionCertificate.objects.filter(pk=old.pk).update(
        not_after=timezone.now() + timedelta(days=10)
    )

    serving = authority.current(["127.0.0.1"])

    new = AdmissionCertificate.objects.filter(role="ca").exclude(pk=old.pk).get()
    assert AdmissionCertificate.objects.get(certificate_pem=serving.certificate_pem).issuer == new
    assert authority.ca_bundle() == new.certificate_pem + old.certificate_pem
    AdmissionCertificate.objects.filter(pk=old.pk).update(not_after=timezone.now())
    assert authority.ca_bundle() == new.certificate_pem


def test_hosts_are_the_configured_ones_and_the_public_urls(settings: Any) -> None:
    settings.ADMISSION_HOSTS = ["127.0.0.1", "Localhost"]
    settings.ADMISSION_PUBLIC_URL = "https://[::1]:9443"

    assert authority.hosts() == ["127.0.0.1", "localhost", "::1"]

    settings.ADMISSION_PUBLIC_URL = "https://localhost:9443/"
    assert authority.hosts() == ["127.0.0.1", "localhost"]


def test_a_renewal_keeps_the_host_an_installation_dials(settings: Any) -> None:
    settings.ADMISSION_HOSTS = ["127.0.0.1"]
    settings.ADMISSION_PUBLIC_URL = "https://127.0.0.1:9443"
    cluster = ClusterFactory()
    AdmissionInstallation.objects.create(
        cluster=cluster,
        name="driftcontrol-admission",
        url=f"https://webhook.shop.example:9443/validate/{cluster.name}",
        mode="deny",
        installed_at=timezone.now(),
    )
    AdmissionInstallation.objects.create(
        cluster=cluster,
        name="driftcontrol-admission",
        url=f"https://gone.example:9443/validate/{cluster.name}",
        mode="deny",
        installed_at=timezone.now() - timedelta(days=3),
        removed_at=timezone.now() - timedelta(days=2),
    )

    assert authority.hosts() == ["127.0.0.1", "webhook.shop.example"]
    assert names(authority.current().certificate_pem) == {"127.0.0.1", "webhook.shop.example"}


def test_a_renewal_window_as_long_as_the_certificate_is_refused(settings: Any) -> None:
    settings.ADMISSION_CERT_DAYS, settings.ADMISSION_CERT_RENEW_DAYS = 30, 30

    with pytest.raises(ImproperlyConfigured, match="must be less than ADMISSION_CERT_DAYS"):
        authority.current(["127.0.0.1"])


def test_key_rotation_reseals_the_certificates_keys(settings: Any) -> None:
    old_key = settings.FIELD_ENCRYPTION_KEYS[0]
    first = authority.current(["127.0.0.1"])
    new_key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new_key, old_key]

    call_command("drift", "keys", "rotate")

    settings.FIELD_ENCRYPTION_KEYS = [new_key]
    assert authority.current(["127.0.0.1"]) == first


@pytest.mark.django_db(transaction=True)
def test_servers_starting_together_make_one_ca_and_one_serving_certificate() -> None:
    start = threading.Barrier(4)
    answers: list[authority.Serving] = []
    failures: list[BaseException] = []

    def serve() -> None:
        try:
            start.wait()
            answers.append(authority.current(["127.0.0.1"]))
        except BaseException as error:  # reported by the assertion below
            failures.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=serve) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert failures == []
    assert len({answer.certificate_pem for answer in answers}) == 1 and len(answers) == 4
    assert AdmissionCertificate.objects.filter(role="ca").count() == 1
    assert AdmissionCertificate.objects.filter(role="serving").count() == 1
