"""`drift check -f DIR` on images: offline, a lane requiring digests finds tags; with
--registries, signatures and provenance are verified in the real registry (Debian's)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from alignment.models import RegistryCredential
from tests.alignment.test_check_command import check
from tests.plugins.registry import OciRegistry
from tests.support import oci

pytestmark = pytest.mark.django_db

LANE = """apiVersion: driftcontrol.io/v1alpha1
kind: Lane
metadata: {{name: controlled}}
spec:
  namespaces: [shop]
  requireDigest: true
  signers:
  - name: release
    key: |
{key}
"""
WORKLOAD = """apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}, namespace: shop}}
spec:
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      containers:
      - {{name: app, image: "{image}"}}
"""


def lane_document(key: Any) -> str:
    pem = "\n".join(f"      {line}" for line in oci.public_pem(key).strip().splitlines())
    return LANE.format(key=pem)


def violations(out: str) -> list[tuple[str, str]]:
    return [(v["rule"], v["object"]) for v in json.loads(out)["violations"]]


def test_offline_a_tag_is_found_and_nothing_else_is_guessed(tmp_path: Path) -> None:
    (tmp_path / "lane.yaml").write_text(lane_document(oci.ecdsa_key()))
    (tmp_path / "web.yaml").write_text(
        WORKLOAD.format(name="web", image="registry.example/shop/web:1.2")
    )

    code, out, _ = check("-f", str(tmp_path), "--output", "json", "--exit-code")

    assert code == 2
    assert violations(out) == [("supply.digest", "Deployment.apps shop/web")]


def test_with_registries_an_unsigned_image_is_named(
    tmp_path: Path, oci_registry: OciRegistry
) -> None:
    host, ca = oci_registry.host, oci_registry.ca_pem
    RegistryCredential.objects.create(host=host, ca_pem=ca)
    key = oci.ecdsa_key()
    signed = oci.push_image(host, ca, "shop/signed", "1", content=b"signed by release")
    oci.sign(host, ca, "shop/signed", signed, key)
    unsigned = oci.push_image(host, ca, "shop/plain", "1", content=b"nobody signed this")
    (tmp_path / "lane.yaml").write_text(lane_document(key))
    for name, image in (("web", f"shop/signed@{signed}"), ("api", f"shop/plain@{unsigned}")):
        (tmp_path / f"{name}.yaml").write_text(WORKLOAD.format(name=name, image=f"{host}/{image}"))

    code, out, _ = check("-f", str(tmp_path), "--output", "json", "--registries", "--exit-code")

    assert code == 2
    assert violations(out) == [("supply.unsigned", "Deployment.apps shop/api")]
