"""Credentials are encrypted at rest, and keys can rotate without losing them."""

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command

from drift.models import Cluster
from driftcontrol.crypto import UnreadableSecret, reseal, seal, unseal
from tests.factories import ClusterFactory

OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()
KUBECONFIG = "apiVersion: v1\nkind: Config\nusers:\n- name: admin\n  user: {token: s3cr3t}\n"


def test_a_sealed_value_opens_again_and_is_not_plaintext(settings):
    settings.FIELD_ENCRYPTION_KEYS = [OLD]

    token = seal(KUBECONFIG)

    assert "s3cr3t" not in token
    assert unseal(token) == KUBECONFIG


def test_rotation_keeps_old_values_readable_and_reseals_them_with_the_new_key(settings):
    settings.FIELD_ENCRYPTION_KEYS = [OLD]
    token = seal(KUBECONFIG)

    settings.FIELD_ENCRYPTION_KEYS = [NEW, OLD]
    assert unseal(token) == KUBECONFIG  # every key decrypts
    rotated = reseal(token)

    settings.FIELD_ENCRYPTION_KEYS = [NEW]  # the old key is gone
    assert unseal(rotated) == KUBECONFIG
    with pytest.raises(UnreadableSecret, match="not in FIELD_ENCRYPTION_KEYS"):
        unseal(token, "credentials of cluster east")


@pytest.mark.django_db
def test_cluster_credentials_are_stored_encrypted(settings):
    settings.FIELD_ENCRYPTION_KEYS = [OLD]
    cluster = ClusterFactory(name="east")

    cluster.set_credentials(KUBECONFIG)
    cluster.save()

    stored = Cluster.objects.values_list("credentials", flat=True).get(pk=cluster.pk)
    assert "s3cr3t" not in stored
    assert Cluster.objects.get(pk=cluster.pk).read_credentials() == KUBECONFIG


@pytest.mark.django_db
def test_the_rotate_command_reseals_every_stored_credential(settings, capsys):
    settings.FIELD_ENCRYPTION_KEYS = [OLD]
    for name in ("east", "west"):
        cluster = ClusterFactory(name=name)
        cluster.set_credentials(KUBECONFIG)
        cluster.save()
    ClusterFactory(name="bare")  # no credentials: left alone

    settings.FIELD_ENCRYPTION_KEYS = [NEW, OLD]
    call_command("drift", "keys", "rotate")

    assert "re-encrypted 2 row(s)" in capsys.readouterr().out
    settings.FIELD_ENCRYPTION_KEYS = [NEW]
    assert {c.name: c.read_credentials() for c in Cluster.objects.all()} == {
        "east": KUBECONFIG,
        "west": KUBECONFIG,
        "bare": "",
    }
