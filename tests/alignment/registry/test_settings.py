"""How scans reach a registry (alignment.registries, `drift registry`): credentials sealed at
rest and used by the scan's lookup against a registry asking for them; every change audited
without the secret; bad values refused with what and where, nothing stored changed."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from alignment import registries, rules, supply_chain
from alignment.models import RegistryCredential
from alignment.registry import Registry, Unreachable
from alignment.supply import refs
from driftcontrol.models import AuditEvent
from tests.alignment.registry.conftest import PASSWORD, USER
from tests.alignment.test_references import objects
from tests.alignment.test_supply_rules import WEB
from tests.plugins.registry import OciRegistry
from tests.support import oci

pytestmark = pytest.mark.django_db


def drift(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("drift", *args, stdout=out, stderr=err)
        code = 0
    except SystemExit as exit:
        code = int(exit.code or 0)
    return code, out.getvalue(), err.getvalue()


def test_a_scan_reaches_a_registry_with_the_stored_sealed_credentials(
    basic_registry: OciRegistry, tmp_path: Path
) -> None:
    host, ca = basic_registry.host, basic_registry.ca_pem
    digest = oci.push_image(host, ca, "shop/web", "1", content=b"w", credentials=(USER, PASSWORD))
    (tmp_path / "ca.pem").write_text(ca)
    (tmp_path / "password").write_text(PASSWORD + "\n")

    code, out, _ = drift(
        "registry", "set", host, "--username", USER,
        "--password-file", str(tmp_path / "password"), "--ca-file", str(tmp_path / "ca.pem"),
    )  # fmt: skip

    assert (code, out.strip()) == (0, f"registry {host}: added")
    stored = RegistryCredential.objects.get(host=host)
    assert PASSWORD not in stored.password  # sealed
    lookup = supply_chain.Lookup()
    try:
        assert lookup.digest(refs.parse(f"{host}/shop/web:1")) == digest
    finally:
        lookup.close()
    event = AuditEvent.objects.get(action="registry.created")
    assert event.data == {"host": host, "username": USER, "password": True, "ca": True}
    assert PASSWORD not in str(event.data)


@pytest.mark.parametrize(
    ("host", "words"),
    [
        ("https://ghcr.io", "no scheme or path"),
        ("ghcr.io/acme", "no scheme or path"),
        ("bad host", "not a registry host"),
    ],
)
def test_a_bad_host_is_refused_saying_why(host: str, words: str) -> None:
    with pytest.raises(registries.BadRegistry, match=words):
        registries.save(host, "tester")
    assert not RegistryCredential.objects.exists()


def test_a_bad_ca_or_a_password_without_user_changes_nothing_stored() -> None:
    registries.save("registry.example:5000", "tester", username="ci", password="s3cret")
    before = RegistryCredential.objects.get().password

    with pytest.raises(registries.BadRegistry, match=r"registry.example:5000: the CA: not PEM"):
        registries.save("registry.example:5000", "tester", ca_pem="-----BEGIN CERTIFICATE-----\nx")
    with pytest.raises(registries.BadRegistry, match="a password needs a username"):
        registries.save("registry.example:5000", "tester", password="other")

    assert RegistryCredential.objects.get().password == before
    assert AuditEvent.objects.filter(action__startswith="registry.").count() == 1


def test_list_never_shows_a_secret_and_remove_is_audited() -> None:
    registries.save("ghcr.io", "tester", username="ci", password="s3cret")

    code, out, _ = drift("registry", "list")
    assert (code, out) == (0, "ghcr.io\tuser ci, password set\n")
    assert drift("registry", "remove", "ghcr.io")[0] == 0
    assert drift("registry", "remove", "ghcr.io")[0] == 1
    assert not RegistryCredential.objects.exists()
    assert AuditEvent.objects.filter(action="registry.removed").count() == 1


def test_a_host_found_unreachable_is_not_waited_for_again_in_one_scan(
    oci_registry: OciRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    RegistryCredential.objects.create(host=oci_registry.host, ca_pem=oci_registry.ca_pem)
    asked: list[str] = []
    resolve = Registry.resolve

    def counted(door: Registry, repository: str, tag: str) -> str:
        asked.append(repository)
        return resolve(door, repository, tag)

    monkeypatch.setattr(Registry, "resolve", counted)
    lookup = supply_chain.Lookup()
    oci_registry.stop()
    try:
        for name in ("web", "api", "worker"):
            with pytest.raises(Unreachable):
                lookup.digest(refs.parse(f"{oci_registry.host}/shop/{name}:1"))
    finally:
        lookup.close()
        oci_registry.start()

    assert asked == ["shop/web"]


def test_an_unreadable_trusted_root_makes_keyless_images_unverifiable_not_untrusted(
    oci_registry: OciRegistry, settings: Any, tmp_path: Path
) -> None:
    RegistryCredential.objects.create(host=oci_registry.host, ca_pem=oci_registry.ca_pem)
    digest = oci.push_image(oci_registry.host, oci_registry.ca_pem, "shop/web", "1", content=b"k")
    image = f"{oci_registry.host}/shop/web@{digest}"
    keyless = {
        "issuer": "https://token.actions.githubusercontent.com",
        "subjectPattern": "^https://",
    }
    lane = rules.LaneSpec(
        "release", namespaces=("shop",), supply={"signers": [{"name": "ci", "keyless": keyless}]}
    )
    web = objects(WEB.replace("IMAGE", image))
    settings.SIGSTORE_TRUSTED_ROOT = str(tmp_path / "missing.json")
    supply_chain.trusted_root.cache_clear()
    try:
        check = supply_chain.checks(web, (lane,))[("release", image)]
    finally:
        supply_chain.trusted_root.cache_clear()

    assert check.evidence is None
    assert check.unverifiable.startswith(f"SIGSTORE_TRUSTED_ROOT {tmp_path / 'missing.json'}: ")
