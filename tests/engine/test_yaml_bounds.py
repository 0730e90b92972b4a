"""YAML aliases and nesting are bounded when a manifest is read (drift.engine.bounds): a
"billion laughs" file is refused at once with its file and the limit named, recursive
aliases end, and ordinary anchors still load."""

from __future__ import annotations

import time

import pytest
import yaml

from drift.engine import manifests
from drift.engine.bounds import (
    DEFAULT_ALIAS_BYTES,
    MAX_DEPTH,
    AliasBudget,
    TooLarge,
    measure,
    size_text,
)

HEADER = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: laughs}\ndata:\n"


def billion_laughs(levels: int = 9, width: int = 9) -> str:
    """The classic bomb: each level lists the previous one `width` times."""
    lines = ["  a0: &a0 [" + ", ".join(['"lol"'] * width) + "]"]
    for level in range(1, levels):
        aliases = ", ".join([f"*a{level - 1}"] * width)
        lines.append(f"  a{level}: &a{level} [{aliases}]")
    return HEADER + "\n".join(lines) + "\n"


SHARED_LABELS = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: &labels {app: web, tier: front, team: shop}
spec:
  selector:
    matchLabels: *labels
  template:
    metadata:
      labels: *labels
    spec:
      containers:
      - &container
        name: web
        image: shop/web:1.0
        resources: &resources {limits: {cpu: 500m, memory: 256Mi}}
      - <<: *container
        name: sidecar
        resources: *resources
"""


@pytest.fixture(params=["libyaml", "pure-python"])
def loader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both loaders the engine may run with (PyYAML without libyaml has only the second)."""
    if request.param == "pure-python":
        monkeypatch.setattr(manifests, "_Loader", yaml.SafeLoader)
    return str(request.param)


def test_a_billion_laughs_is_refused_at_once_naming_the_file_and_the_limit(loader: str) -> None:
    started = time.monotonic()

    documents, errors = manifests.parse(billion_laughs(), "k8s/laughs.yaml")

    assert time.monotonic() - started < 1
    assert documents == []
    [error] = errors
    assert error.file == "k8s/laughs.yaml" and error.line == 1
    assert "aliases would expand this document by about" in error.message
    assert f"at most {size_text(DEFAULT_ALIAS_BYTES)} per source" in error.message


def test_the_limit_is_named_as_the_caller_names_it() -> None:
    budget = AliasBudget(1024, "YAML_MAX_ALIAS_BYTES")

    _, [error] = manifests.parse(billion_laughs(levels=4), "k8s/laughs.yaml", budget)

    assert "at most 1,024 bytes (1.0 KiB) per source (YAML_MAX_ALIAS_BYTES)" in error.message
    assert budget.used == 0


def test_a_recursive_alias_ends_as_an_error(loader: str) -> None:
    text = HEADER + "  loop: &loop [1, *loop]\n"

    documents, errors = manifests.parse(text, "k8s/loop.yaml")

    assert documents == []
    assert [str(e) for e in errors] == [
        "k8s/loop.yaml:1: a YAML alias refers to a node that contains it (a recursive alias)"
    ]


def test_a_recursive_mapping_alias_ends_too(loader: str) -> None:
    text = HEADER + "  self: &self {again: *self}\n"

    _, [error] = manifests.parse(text, "k8s/loop.yaml")

    assert "recursive alias" in error.message


def test_ordinary_anchors_and_merge_keys_load_as_before(loader: str) -> None:
    budget = AliasBudget(DEFAULT_ALIAS_BYTES)

    [document], errors = manifests.parse(SHARED_LABELS, "k8s/web.yaml", budget)

    assert errors == []
    spec = document.obj["spec"]
    assert spec["selector"]["matchLabels"] == {"app": "web", "tier": "front", "team": "shop"}
    sidecar = spec["template"]["spec"]["containers"][1]
    assert sidecar == {
        "name": "sidecar",
        "image": "shop/web:1.0",
        "resources": {"limits": {"cpu": "500m", "memory": "256Mi"}},
    }
    assert 0 < budget.used < 1024


def test_one_budget_is_shared_by_the_files_of_a_source() -> None:
    one_file = billion_laughs(levels=3, width=30)  # about 30 KB of expansion
    added = measure(yaml.compose(one_file, Loader=yaml.SafeLoader)).added
    budget = AliasBudget(int(added * 1.5), "YAML_MAX_ALIAS_BYTES")

    first, first_errors = manifests.parse(one_file, "k8s/a.yaml", budget)
    second, [error] = manifests.parse(one_file, "k8s/b.yaml", budget)

    assert first_errors == [] and len(first) == 1
    assert second == []
    assert error.file == "k8s/b.yaml"
    assert "were left)" in error.message
    assert budget.used == added


def test_a_file_that_fails_later_gives_back_what_its_aliases_took() -> None:
    budget = AliasBudget(DEFAULT_ALIAS_BYTES)
    text = SHARED_LABELS + "---\nkind: [unclosed\n"

    documents, errors = manifests.parse(text, "k8s/web.yaml", budget)

    assert documents == [] and "invalid YAML" in errors[0].message
    assert budget.used == 0


def test_measuring_is_linear_in_what_the_file_spells_out() -> None:
    # 60 levels of two aliases each: 2**60 nodes expanded, 180 nodes written.
    lines = ["a0: &a0 [x, y]"] + [f"a{n}: &a{n} [*a{n - 1}, *a{n - 1}]" for n in range(1, 60)]
    node = yaml.compose("\n".join(lines), Loader=yaml.CSafeLoader)
    started = time.monotonic()

    expansion = measure(node)

    assert time.monotonic() - started < 0.5
    assert expansion.expanded > 2**60 > 10**6 > expansion.spelled


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_nesting_deeper_than_the_limit_is_refused(suffix: str) -> None:
    deep = '{"a": ' * (MAX_DEPTH + 1) + "1" + "}" * (MAX_DEPTH + 1)

    documents, errors = manifests.parse(deep, f"k8s/deep{suffix}")

    assert documents == []
    assert errors[0].message == f"the document nests deeper than {MAX_DEPTH} levels"


def test_json_nested_past_the_decoders_own_limit_is_an_error_not_a_crash() -> None:
    documents, errors = manifests.parse("[" * 100_000 + "]" * 100_000, "k8s/deep.json")

    assert documents == []
    assert errors[0].message == f"the document nests deeper than {MAX_DEPTH} levels"


def test_an_object_nested_as_deep_as_the_limit_loads() -> None:
    inner = '{"a": ' * (MAX_DEPTH - 3) + "1" + "}" * (MAX_DEPTH - 3)
    head = '"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "deep"}'
    text = f'{{{head}, "data": {inner}}}'

    for suffix in (".yaml", ".json"):
        documents, errors = manifests.parse(text, f"k8s/deep{suffix}")
        assert errors == [] and len(documents) == 1


def test_a_budget_refuses_without_taking_anything() -> None:
    budget = AliasBudget(100)
    budget.charge(60)

    with pytest.raises(TooLarge, match=r"40 bytes were left"):
        budget.charge(41)
    assert budget.used == 60 and budget.remaining == 40


def test_sizes_read_as_people_read_them() -> None:
    assert size_text(512) == "512 bytes"
    assert size_text(8 << 20) == "8,388,608 bytes (8.0 MiB)"
    assert size_text(52_428_800) == "52,428,800 bytes (50.0 MiB)"
    assert size_text(3 << 30) == "3,221,225,472 bytes (3.0 GiB)"
