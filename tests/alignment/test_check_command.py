"""`manage.py drift check -f DIR`: offline, for CI pipelines (0 clean, 2 violations with
--exit-code, 1 error), naming file, object, field and rule."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from tests.alignment.test_references import CORPUS, NEEDS, WEB

pytestmark = pytest.mark.django_db  # the lanes come from the database when DIR has none


def check(*args: str) -> tuple[int, str, str]:
    out, err = StringIO(), StringIO()
    try:
        call_command("drift", "check", *args, stdout=out, stderr=err)
    except SystemExit as stop:
        return int(stop.code or 0), out.getvalue(), err.getvalue()
    return 0, out.getvalue(), err.getvalue()


def test_the_corpus_is_clean() -> None:
    code, out, _ = check("-f", str(CORPUS / "microservices-demo"), "--exit-code")

    assert code == 0
    assert out.splitlines()[-1] == "14 file(s), 37 object(s): clean"


def test_a_missing_secret_exits_2_naming_file_object_field_and_rule(tmp_path: Path) -> None:
    (tmp_path / "apps").mkdir()
    (tmp_path / "apps" / "web.yaml").write_text(WEB)
    (tmp_path / "needs.yaml").write_text(NEEDS.replace("name: db,", "name: database,"))

    code, out, _ = check("-f", str(tmp_path), "--exit-code")
    without, _, _ = check("-f", str(tmp_path))

    assert (code, without) == (2, 0)
    assert out.splitlines() == [
        "apps/web.yaml:2: high refs.secret: Deployment.apps shop/web names Secret db, which does "
        "not exist in namespace shop (field /spec/template/spec/containers/0/env/0/valueFrom/"
        "secretKeyRef/name)",
        "2 file(s), 7 object(s): 1 violation(s)",
    ]


def test_json_output_carries_evidence_and_runbook(tmp_path: Path) -> None:
    (tmp_path / "web.yaml").write_text(WEB)

    code, out, _ = check("-f", str(tmp_path), "--output", "json")

    report = json.loads(out)
    assert (code, report["files"], report["objects"], report["problems"]) == (0, 1, 1, [])
    first = report["violations"][0]
    assert first["rule"] == "refs.claim" and first["source"] == "web.yaml:2"
    assert first["evidence"][1] == {
        "group": "",
        "kind": "PersistentVolumeClaim",
        "namespace": "shop",
        "name": "web-data",
        "path": "",
        "note": "missing",
    }
    assert "Pending" in first["runbook"]


@pytest.mark.parametrize(
    "content, problem",
    [
        ("kind: [unclosed\n", "broken.yaml:2: invalid YAML"),
        (WEB + "---\n" + WEB, "is declared twice (first at broken.yaml:2)"),
    ],
)
def test_a_file_that_does_not_parse_is_an_error(tmp_path: Path, content: str, problem: str) -> None:
    (tmp_path / "broken.yaml").write_text(content)

    code, _, err = check("-f", str(tmp_path), "--exit-code")

    assert code == 1 and problem in err


def test_a_directory_that_does_not_exist_is_an_error(tmp_path: Path) -> None:
    code, _, err = check("-f", str(tmp_path / "nowhere"))

    assert code == 1 and "not a directory" in err


LANES = """
apiVersion: driftcontrol.io/v1alpha1
kind: Lane
metadata: {name: fast}
spec: {namespaces: ["dev-*"], secrets: ["dev-*"]}
---
apiVersion: driftcontrol.io/v1alpha1
kind: Lane
metadata: {name: controlled}
spec: {namespaces: [shop], secrets: ["shop-*"], registries: [registry.example.com/]}
"""
FAST_APP = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: preview}
spec:
  selector: {matchLabels: {app: preview}}
  template:
    metadata: {labels: {app: preview}}
    spec:
      containers:
      - name: preview
        image: registry.example.com/dev/preview:0.1
        env:
        - name: DB_PASSWORD
          valueFrom: {secretKeyRef: {name: shop-db, key: password}}
---
apiVersion: v1
kind: Secret
metadata: {name: shop-db}
"""


def test_a_cross_lane_secret_exits_2_naming_file_object_field_and_rule(tmp_path: Path) -> None:
    (tmp_path / "lanes.yaml").write_text(LANES)
    (tmp_path / "preview.yaml").write_text(FAST_APP)

    code, out, _ = check("-f", str(tmp_path), "--lane", "fast", "--exit-code")

    assert code == 2
    assert out.splitlines() == [
        "preview.yaml:2: high lane.secret: Deployment.apps preview in lane fast uses Secret "
        "shop-db, which belongs to lane controlled (field /spec/template/spec/containers/0/"
        "env/0/valueFrom/secretKeyRef/name)",
        "2 file(s), 2 object(s): 1 violation(s)",
    ]


def test_an_unknown_lane_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "lanes.yaml").write_text(LANES)

    code, _, err = check("-f", str(tmp_path), "--lane", "slow")

    assert code == 1 and "no lane slow (lanes: fast, controlled)" in err


def test_a_lane_document_is_checked_as_drift_apply_checks_it(tmp_path: Path) -> None:
    (tmp_path / "lanes.yaml").write_text(LANES.replace('secrets: ["dev-*"]', "secrets: dev"))

    code, _, err = check("-f", str(tmp_path))

    assert code == 1 and "Lane fast: documents[0].spec.secrets: must be a list" in err
