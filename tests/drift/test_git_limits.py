"""Git content is bounded: per-file and per-source byte limits, symlinks named instead of
skipped, a YAML alias bomb refused with its file named, and a finding too large to store
kept as a cut view with its size and digest. Real repositories made in tmp_path, read
through the Git door."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from pathlib import Path
from typing import Any

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from drift.engine import excerpts
from drift.engine.normalize import ObjectKey
from drift.git import Repository
from drift.git.reading import Limits, TooLarge, Unread
from drift.models import Finding, GitSource, Scan, ScanStatus
from drift.services import desired, ledger, scanning
from driftcontrol import tokens
from tests.engine.test_yaml_bounds import billion_laughs
from tests.factories import ClusterFactory, DriftPolicyFactory, ScanFactory
from tests.gitwork import git

pytestmark = pytest.mark.usefixtures("fresh_revisions")

CONFIG_MAP = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {mode: fast}
"""
DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  template:
    spec:
      containers: [{name: web, image: nginx:1.25}]
"""


def commit(repo: Path, files: dict[str, str | bytes], links: dict[str, str] | None = None) -> str:
    for name, content in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        data = content.encode() if isinstance(content, str) else content
        (repo / name).write_bytes(data)
    for name, target in (links or {}).items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).symlink_to(target)
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "--allow-empty", "-m", "change")
    return git(repo, "rev-parse", "HEAD")


def big_config_map(size: int, name: str = "big") -> str:
    """An ordinary ConfigMap of about `size` bytes."""
    head = f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}}}\ndata:\n"
    line = "  k{:07d}: " + "x" * 80 + "\n"
    count = max((size - len(head)) // len(line.format(0)), 1)
    return head + "".join(line.format(n) for n in range(count))


@pytest.fixture
def limits(settings: Any) -> Any:
    settings.GIT_MAX_FILE_BYTES = 64 * 1024
    settings.GIT_MAX_SOURCE_BYTES = 256 * 1024
    return settings


def source_of(repo: Path, path: str = "k8s") -> GitSource:
    return GitSource(name="deploy", url=str(repo), ref="main", path=path)


def messages(revision: desired.Revision) -> list[str]:
    return [str(error) for error in revision.errors]


# --- reading within limits (drift.git) ------------------------------------------------------


def test_a_file_over_the_limit_is_listed_with_its_size_and_never_read(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    commit(repo, {"k8s/big.yaml": big_config_map(200_000), "k8s/small.yaml": CONFIG_MAP})
    big_id = git(repo, "rev-parse", "HEAD:k8s/big.yaml").encode()
    reading = Repository(str(repo), tmp_path / "cache")
    asked: list[set[bytes]] = []
    blobs = reading._blobs
    monkeypatch.setattr(
        reading, "_blobs", lambda oids, doing: asked.append(oids) or blobs(oids, doing)
    )

    contents = reading.read_bounded(reading.resolve("main"), "k8s", limits=Limits(100_000, None))

    assert [f.path for f in contents.files] == ["k8s/small.yaml"]
    size = (repo / "k8s/big.yaml").stat().st_size
    assert contents.unread == [Unread("k8s/big.yaml", "file_bytes", size)]
    assert all(big_id not in oids for oids in asked)


def test_once_the_total_would_pass_its_limit_that_file_and_every_later_one_are_unread(
    repo: Path, tmp_path: Path
) -> None:
    commit(repo, {f"k8s/{n}.yaml": big_config_map(30_000, f"m{n}") for n in range(5)})
    reading = Repository(str(repo), tmp_path / "cache")

    contents = reading.read_bounded(reading.resolve("main"), "k8s", limits=Limits(None, 70_000))

    assert [f.path for f in contents.files] == ["k8s/0.yaml", "k8s/1.yaml"]
    assert [(u.path, u.why) for u in contents.unread] == [
        (f"k8s/{n}.yaml", "total_bytes") for n in (2, 3, 4)
    ]


def test_a_symlinked_manifest_is_named_with_its_target_and_not_followed(
    repo: Path, tmp_path: Path
) -> None:
    commit(
        repo,
        {"k8s/app.yaml": CONFIG_MAP},
        links={"k8s/evil.yaml": "/etc/passwd", "k8s/notes.txt": "/etc/hostname"},
    )
    reading = Repository(str(repo), tmp_path / "cache")

    contents = reading.read_bounded(reading.resolve("main"), "k8s")

    assert [f.path for f in contents.files] == ["k8s/app.yaml"]
    assert contents.unread == [Unread("k8s/evil.yaml", "symlink", 11, "/etc/passwd")]
    assert reading.read(reading.resolve("main"), "k8s") == contents.files


def test_an_export_leaves_out_files_over_the_limit_and_names_them(
    repo: Path, tmp_path: Path
) -> None:
    commit(
        repo,
        {"k8s/app.yaml": CONFIG_MAP, "docs/huge.bin": b"\0" * 200_000},
        links={"k8s/passwd.yaml": "/etc/passwd"},
    )
    reading = Repository(str(repo), tmp_path / "cache")

    root, left_out = reading.export_bounded(
        reading.resolve("main"), "k8s", tmp_path / "out", Limits(100_000, None)
    )

    assert (root / "app.yaml").read_text() == CONFIG_MAP
    assert not (tmp_path / "out/docs/huge.bin").exists()
    assert left_out == [
        Unread("docs/huge.bin", "file_bytes", 200_000),
        Unread("k8s/passwd.yaml", "symlink", 0),
    ]


def test_an_export_past_the_total_limit_is_refused_before_anything_is_written(
    repo: Path, tmp_path: Path
) -> None:
    commit(repo, {f"docs/{n}.bin": b"\0" * 40_000 for n in range(5)})
    reading = Repository(str(repo), tmp_path / "cache")

    with pytest.raises(TooLarge) as refused:
        reading.export_bounded(reading.resolve("main"), "", tmp_path / "out", Limits(None, 100_000))

    assert refused.value.size > 200_000 and refused.value.limit == 100_000
    assert not (tmp_path / "out").exists()


# --- desired state: each violation a problem naming the file and the limit ------------------


def test_a_file_over_the_limit_is_a_problem_and_the_others_are_still_read(
    repo: Path, limits: Any
) -> None:
    commit(repo, {"k8s/big.yaml": big_config_map(100_000), "k8s/app.yaml": CONFIG_MAP})

    revision = desired.read_revision(source_of(repo))

    size = (repo / "k8s/big.yaml").stat().st_size
    assert messages(revision) == [
        f"k8s/big.yaml: {size:,} bytes ({size / 1024:.1f} KiB), over the limit of "
        "65,536 bytes (64.0 KiB) per file (GIT_MAX_FILE_BYTES); not read"
    ]
    assert [d.obj["metadata"]["name"] for d in revision.documents] == ["settings"]


def test_a_symlinked_manifest_is_a_problem_naming_the_link(repo: Path) -> None:
    commit(repo, {"k8s/app.yaml": CONFIG_MAP}, links={"k8s/evil.yaml": "/etc/passwd"})

    revision = desired.read_revision(source_of(repo))

    assert messages(revision) == [
        "k8s/evil.yaml: a symlink to '/etc/passwd'; symlinks are not followed, so it was not read"
    ]
    assert len(revision.documents) == 1


def test_an_alias_bomb_is_a_problem_naming_the_file_within_a_second(
    repo: Path, settings: Any
) -> None:
    settings.YAML_MAX_ALIAS_BYTES = 4 << 20
    commit(repo, {"k8s/laughs.yaml": billion_laughs(), "k8s/app.yaml": CONFIG_MAP})
    started = time.monotonic()

    revision = desired.read_revision(source_of(repo))

    assert time.monotonic() - started < 1
    [problem] = messages(revision)
    assert problem.startswith("k8s/laughs.yaml:1: YAML aliases would expand this document")
    assert problem.endswith("per source (YAML_MAX_ALIAS_BYTES)")
    assert len(revision.documents) == 1


def test_a_source_past_its_total_is_one_problem_naming_the_first_file_left(
    repo: Path, limits: Any
) -> None:
    commit(repo, {f"k8s/{n}.yaml": big_config_map(60_000, f"m{n}") for n in range(6)})

    revision = desired.read_revision(source_of(repo))

    assert messages(revision) == [
        "k8s/4.yaml: not read (nor 1 later file(s)): the source's manifests pass the limit "
        "of 262,144 bytes (256.0 KiB) per source (GIT_MAX_SOURCE_BYTES)"
    ]
    assert len(revision.documents) == 4


def test_a_kustomize_build_that_needs_a_file_left_out_says_which(repo: Path, limits: Any) -> None:
    commit(
        repo,
        {
            "k8s/app/kustomization.yaml": "resources:\n- big.yaml\n",
            "k8s/app/big.yaml": big_config_map(100_000),
        },
    )

    revision = desired.read_revision(source_of(repo))

    [problem] = messages(revision)
    assert problem.startswith("k8s/app/ (kustomize build): ")
    assert "left out of the build: k8s/app/big.yaml (" in problem
    assert "over GIT_MAX_FILE_BYTES)" in problem


def test_a_repository_too_large_to_export_is_not_built(repo: Path, limits: Any) -> None:
    commit(
        repo,
        {
            "k8s/app/kustomization.yaml": "resources:\n- settings.yaml\n",
            "k8s/app/settings.yaml": CONFIG_MAP,
            **{f"docs/{n}.bin": b"\0" * 60_000 for n in range(5)},
        },
    )

    revision = desired.read_revision(source_of(repo))

    [problem] = messages(revision)
    assert problem.startswith("k8s/app/ (kustomize build): not built: the repository's files")
    assert problem.endswith("per source (GIT_MAX_SOURCE_BYTES)")


def test_the_revision_cache_holds_no_more_than_one_source_at_the_limit(
    repo: Path, limits: Any
) -> None:
    commit(repo, {"a/big.yaml": big_config_map(50_000), "b/big.yaml": big_config_map(50_000)})
    commit(repo, {"c/big.yaml": big_config_map(50_000), "d/big.yaml": big_config_map(50_000)})
    commit(repo, {"e/big.yaml": big_config_map(50_000), "f/big.yaml": big_config_map(50_000)})

    for path in "abcdef":
        desired.read_revision(source_of(repo, path))

    held = desired.revisions._items
    assert 0 < sum(r.bytes for r in held.values()) <= 256 * 1024
    assert len(held) == 5


# --- scans ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_unexpected_error_is_one_line_for_people_and_a_traceback_in_the_log(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    scan = ScanFactory()

    def explode(self: Any) -> None:
        raise RuntimeError("first line\n  second line\n\tthird")

    monkeypatch.setattr(scanning._Scanner, "run", explode)
    with caplog.at_level(logging.ERROR, logger="drift.services.scanning"):
        scanning.run(scan.pk)

    scan.refresh_from_db()
    assert scan.status == ScanStatus.FAILED
    assert scan.error == "internal error: RuntimeError: first line second line third"
    assert "Traceback" in caplog.text and "Traceback" not in scan.error


@pytest.mark.django_db
def test_a_memory_error_reads_as_its_name() -> None:
    scan = ScanFactory()
    Scan.objects.filter(pk=scan.pk).update(status=ScanStatus.QUEUED)

    def exhausted(self: Any) -> None:
        raise MemoryError

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(scanning._Scanner, "run", exhausted)
        scanning.run(scan.pk)

    assert Scan.objects.get(pk=scan.pk).error == "internal error: MemoryError"


# --- what a finding stores ----------------------------------------------------------------


def missing_diff(size: int) -> dict[str, Any]:
    manifest = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "big", "namespace": "shop"},
        "data": {f"k{n:06d}": "x" * 100 for n in range(size // 110)},
    }
    return {
        "paths": [],
        "fields": [],
        "desired": manifest,
        "patch": [{"op": "add", "path": "", "value": manifest}],
    }


def test_a_drift_within_the_limit_is_stored_as_it_is() -> None:
    diff = missing_diff(2_000)

    assert excerpts.bounded(diff, 64 * 1024) is diff


def test_a_drift_past_the_limit_keeps_a_cut_view_its_size_and_digest() -> None:
    diff = missing_diff(5_000_000)
    full = json.dumps(diff, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()

    view = excerpts.bounded(diff, 64 * 1024)

    assert len(excerpts.canonical(view)) <= 64 * 1024
    assert view["truncated"] == {
        "bytes": len(full),
        "sha256": hashlib.sha256(full).hexdigest(),
        "limit": 64 * 1024,
    }
    assert view["patch"] == []
    kept = view["desired"]
    assert kept["apiVersion"] == "v1" and kept["metadata"]["name"] == "big"
    assert kept["data"]["k000000"] == "x" * 100
    assert kept["data"][excerpts.CUT].endswith("more entries not stored")


def test_a_cut_view_shares_its_room_between_git_and_the_cluster() -> None:
    field = {"path": "/data/blob", "op": "changed", "desired": "é" * 500_000, "live": "ü" * 500_000}
    diff = {"paths": ["/data/blob"], "fields": [field], "patch": []}

    view = excerpts.bounded(diff, 64 * 1024)

    assert len(excerpts.canonical(view)) <= 64 * 1024
    kept = view["fields"][0]
    assert kept["path"] == "/data/blob" and view["paths"] == ["/data/blob"]
    assert kept["desired"].startswith("é" * 1000) and kept["live"].startswith("ü" * 1000)
    assert kept["desired"].endswith("(cut: 500,000 characters in all)")


@pytest.mark.django_db
def test_a_finding_too_large_to_store_shows_the_cut_view_on_its_page_and_in_the_api(
    client: Any, viewer: Any, settings: Any
) -> None:
    settings.FINDING_MAX_DIFF_BYTES = 64 * 1024
    cluster, policy = ClusterFactory(name="prod"), DriftPolicyFactory(name="shop")
    diff = missing_diff(5_000_000)
    observation = ledger.Observation(
        ObjectKey("", "ConfigMap", "shop", "big"), "v1", "missing", "high", diff
    )

    ledger.record(policy, cluster, [observation], lambda key: True)

    finding = Finding.objects.get()
    assert finding.diff["truncated"]["limit"] == 64 * 1024
    client.force_login(viewer)
    page = client.get(reverse("finding", args=[finding.pk]))
    started = time.monotonic()  # the second time: templates loaded, as in production
    client.get(reverse("finding", args=[finding.pk]))
    assert time.monotonic() - started < 1.5
    text = page.content.decode()
    assert len(text) < 1_000_000
    assert "so it was truncated" in text and finding.diff["truncated"]["sha256"] in text
    assert "a cut patch would be a wrong one" in text
    _, raw = tokens.create(viewer, "test", "read", actor="cli:test")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    answer = api.get(f"/api/v1/findings/{finding.pk}/")
    assert answer.status_code == 200 and len(answer.content) < 100_000
    assert answer.json()["diff"]["truncated"] == finding.diff["truncated"]


@pytest.mark.django_db
def test_a_drift_of_many_large_fields_keeps_the_first_ones_whole_and_counts_the_rest(
    client: Any, viewer: Any, settings: Any
) -> None:
    settings.FINDING_MAX_DIFF_BYTES = 64 * 1024
    fields = [
        {"path": f"/data/k{n}", "op": "changed", "desired": "a" * 20_000, "live": "b" * 20_000}
        for n in range(50)
    ]
    diff = {"paths": [f["path"] for f in fields], "fields": fields, "patch": []}
    observation = ledger.Observation(
        ObjectKey("", "ConfigMap", "shop", "big"), "v1", "modified", "high", diff
    )

    ledger.record(DriftPolicyFactory(), ClusterFactory(), [observation], lambda key: True)

    stored = Finding.objects.get().diff
    assert len(excerpts.canonical(stored)) <= 64 * 1024
    assert stored["paths"] == diff["paths"]
    kept = stored["fields"]
    assert 0 < len(kept) < 50 and all(isinstance(field, dict) for field in kept)
    assert kept[0] == fields[0]
    assert stored["truncated"]["fieldsStored"] == len(kept)
    assert stored["truncated"]["fields"] == 50
    client.force_login(viewer)
    page = client.get(reverse("finding", args=[Finding.objects.get().pk]))
    assert page.status_code == 200
    assert f"{len(kept)} of its 50 drifted fields are kept" in page.content.decode()


def test_keys_that_are_not_text_are_measured_as_json_writes_them() -> None:
    diff = {"desired": {"data": {1: "one", "b": "two", None: "none"}, "blob": "x" * 10_000}}

    view = excerpts.bounded(diff, 4096)

    assert (
        view["truncated"]["bytes"]
        == len(b'{"desired":{"blob":"","data":{"1":"one","b":"two","null":"none"}}}') + 10_000
    )
    assert len(excerpts.canonical(view)) <= 4096
