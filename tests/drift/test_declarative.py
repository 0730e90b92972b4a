"""Configuration as documents: `drift apply` (drift.declarative), `drift export`
(drift.declarative.export), and the `manage.py drift apply|export` commands around them."""

from __future__ import annotations

import copy
import io
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.core.management import call_command
from django.core.management.base import CommandError

from drift import declarative
from drift.declarative import InvalidDocuments, export
from drift.models import Cluster, DriftPolicy, GitSource, Lane
from driftcontrol.crypto import unseal
from driftcontrol.models import AuditEvent

pytestmark = pytest.mark.django_db

API = "driftcontrol.io/v1alpha1"
ACTOR = "cli:tester"


def kubeconfig(server: str = "https://127.0.0.1:6443", token: str = "t0ken-prod") -> str:
    return f"""\
apiVersion: v1
kind: Config
clusters:
- name: prod
  cluster:
    server: {server}
    insecure-skip-tls-verify: true
users:
- name: deployer
  user:
    token: {token}
contexts:
- name: prod
  context:
    cluster: prod
    user: deployer
current-context: prod
"""


KUBECONFIG = kubeconfig()


def document(kind: str, name: str, spec: dict[str, Any], **metadata: Any) -> dict[str, Any]:
    return {"apiVersion": API, "kind": kind, "metadata": {"name": name, **metadata}, "spec": spec}


def batch() -> list[dict[str, Any]]:
    """A valid configuration, deliberately listed out of application order."""
    return [
        document(
            "DriftPolicy",
            "shop",
            {
                "description": "the shop's namespaces",
                "source": "deploy",
                "clusters": {"names": ["prod-eu"]},
                "namespace": "shop",
                "namespaces": {"include": ["shop-*"], "exclude": ["shop-scratch"]},
                "kinds": {"exclude": ["Event"]},
                "interval": "2m",
                "mode": "enforce",
                "severity": [{"kinds": ["Secret"], "level": "critical"}],
                "ignore": [{"kinds": ["Deployment"], "paths": ["/spec/replicas"]}],
                "remediation": {"strategy": "rollback", "approvals": {"critical": 3}},
            },
        ),
        document(
            "Cluster",
            "prod-eu",
            {"kubeconfig": KUBECONFIG, "lanes": ["fast"]},
            labels={"env": "prod", "region": "eu"},
        ),
        document(
            "GitSource",
            "deploy",
            {"url": "/srv/git/deploy.git", "ref": "release", "path": "/k8s/", "hookSecret": "h00k"},
        ),
        document("Lane", "fast", {"namespaces": ["shop-*"], "branches": ["main"]}),
    ]


def configuration_counts() -> tuple[int, ...]:
    return (
        Lane.objects.count(),
        GitSource.objects.count(),
        Cluster.objects.count(),
        DriftPolicy.objects.count(),
        AuditEvent.objects.count(),
    )


def problems_of(documents: list[Any], base: Path | None = None) -> list[str]:
    with pytest.raises(InvalidDocuments) as raised:
        declarative.apply(documents, ACTOR, [base] * len(documents))
    return [str(problem) for problem in raised.value.problems]


def summary(results: list[declarative.Applied]) -> list[tuple[str, str, str]]:
    return [(r.kind, r.name, r.action) for r in results]


# --- applying ----------------------------------------------------------------------------


def test_it_creates_everything_a_valid_batch_declares() -> None:
    results = declarative.apply(batch(), ACTOR)

    assert summary(results) == [
        ("Lane", "fast", "created"),
        ("GitSource", "deploy", "created"),
        ("Cluster", "prod-eu", "created"),
        ("DriftPolicy", "shop", "created"),
    ]
    lane = Lane.objects.get(name="fast")
    assert (lane.namespaces, lane.branches, lane.identities) == (["shop-*"], ["main"], [])
    source = GitSource.objects.get(name="deploy")
    assert (source.url, source.ref, source.path) == ("/srv/git/deploy.git", "release", "k8s")
    assert unseal(source.hook_secret) == "h00k"
    cluster = Cluster.objects.get(name="prod-eu")
    assert cluster.labels == {"env": "prod", "region": "eu"}
    assert [lane.name for lane in cluster.lanes.all()] == ["fast"]
    assert cluster.api_server_url == "https://127.0.0.1:6443"
    policy = DriftPolicy.objects.get(name="shop")
    assert policy.source == source
    assert policy.cluster_names == ["prod-eu"]
    assert policy.default_namespace == "shop"
    assert policy.interval_seconds == 120
    assert (policy.mode, policy.strategy, policy.auto_remediate_up_to) == (
        "enforce",
        "rollback",
        "none",
    )
    # Approvals not named keep their defaults.
    assert policy.approvals == {"critical": 3, "high": 1, "medium": 1, "low": 1, "info": 0}
    assert policy.severity_rules == [{"kinds": ["Secret"], "level": "critical"}]
    events = AuditEvent.objects.order_by("sequence")
    assert [(e.action, e.object_repr, e.actor) for e in events] == [
        ("lane.created", "fast", ACTOR),
        ("gitsource.created", "deploy", ACTOR),
        ("cluster.created", "prod-eu", ACTOR),
        ("driftpolicy.created", "shop", ACTOR),
    ]
    assert events[0].data["via"] == "drift apply"


def test_applying_the_same_batch_again_changes_nothing_and_audits_nothing() -> None:
    declarative.apply(batch(), ACTOR)
    events = AuditEvent.objects.count()
    updated = {p.name: p.updated_at for p in DriftPolicy.objects.all()}

    results = declarative.apply(batch(), ACTOR)

    assert {r.action for r in results} == {"unchanged"}
    assert len(results) == 4
    assert AuditEvent.objects.count() == events
    assert {p.name: p.updated_at for p in DriftPolicy.objects.all()} == updated


def test_it_updates_only_what_changed_and_audits_the_changed_field_names() -> None:
    declarative.apply(batch(), ACTOR)
    changed = batch()
    changed[0]["spec"]["interval"] = "90s"
    changed[0]["spec"]["mode"] = "detect-only"

    results = declarative.apply(changed, ACTOR)

    assert summary(results) == [
        ("Lane", "fast", "unchanged"),
        ("GitSource", "deploy", "unchanged"),
        ("Cluster", "prod-eu", "unchanged"),
        ("DriftPolicy", "shop", "updated"),
    ]
    policy = DriftPolicy.objects.get(name="shop")
    assert (policy.interval_seconds, policy.mode) == (90, "detect-only")
    event = AuditEvent.objects.filter(action="driftpolicy.updated").get()
    assert event.object_id == str(policy.pk)
    assert event.data == {"via": "drift apply", "changed": ["interval_seconds", "mode"]}


def test_a_new_kubeconfig_updates_the_credentials_and_the_api_server() -> None:
    declarative.apply(batch(), ACTOR)
    changed = batch()
    moved = kubeconfig(server="https://10.1.2.3:6443", token="t0ken-rotated")
    changed[1]["spec"]["kubeconfig"] = moved
    changed[1]["spec"]["lanes"] = []

    results = declarative.apply(changed, ACTOR)

    assert ("Cluster", "prod-eu", "updated") in summary(results)
    cluster = Cluster.objects.get(name="prod-eu")
    assert cluster.read_credentials() == moved
    assert cluster.api_server_url == "https://10.1.2.3:6443"
    assert not cluster.lanes.exists()
    event = AuditEvent.objects.filter(action="cluster.updated").get()
    assert event.data["changed"] == ["api_server_url", "credentials", "lanes"]
    assert "t0ken" not in str(event.data)


def test_a_changed_hook_secret_is_resealed_and_audited_without_its_value() -> None:
    declarative.apply(batch(), ACTOR)
    changed = batch()
    changed[2]["spec"]["hookSecret"] = "n3w-h00k"

    declarative.apply(changed, ACTOR)

    assert unseal(GitSource.objects.get(name="deploy").hook_secret) == "n3w-h00k"
    event = AuditEvent.objects.filter(action="gitsource.updated").get()
    assert event.data["changed"] == ["hook_secret"]
    assert "n3w-h00k" not in str(event.data)


def test_a_cluster_document_without_kubeconfig_keeps_the_stored_credentials() -> None:
    declarative.apply(batch(), ACTOR)
    again = batch()
    del again[1]["spec"]["kubeconfig"]
    again[1]["metadata"]["labels"]["tier"] = "gold"

    results = declarative.apply(again, ACTOR)

    assert ("Cluster", "prod-eu", "updated") in summary(results)
    cluster = Cluster.objects.get(name="prod-eu")
    assert cluster.read_credentials() == KUBECONFIG
    assert cluster.labels["tier"] == "gold"
    assert AuditEvent.objects.get(action="cluster.updated").data["changed"] == ["labels"]


def test_documents_may_refer_to_lanes_and_sources_already_stored() -> None:
    declarative.apply(batch(), ACTOR)

    results = declarative.apply(
        [
            document("Cluster", "prod-us", {"kubeconfig": KUBECONFIG, "lanes": ["fast"]}),
            document("DriftPolicy", "ops", {"source": "deploy", "clusters": {"names": ["x"]}}),
        ],
        ACTOR,
    )

    assert {r.action for r in results} == {"created"}
    assert DriftPolicy.objects.get(name="ops").source.name == "deploy"


# --- refusing ----------------------------------------------------------------------------


def test_an_invalid_batch_lists_every_problem_and_writes_nothing() -> None:
    Lane.objects.create(name="slow")
    before = configuration_counts()
    documents = [
        document("Lane", "fast", {}),  # valid on its own: still not written
        document("GitSource", "deploy", {"url": "/srv/git/deploy.git", "branch": "main"}),
        document(
            "DriftPolicy",
            "shop",
            {
                "source": "nowhere",
                "clusters": {"names": ["prod"]},
                "mode": "enforcing",
                "interval": "5x",
                "severity": [{"kinds": ["Secret"], "level": "urgent"}],
            },
        ),
        document("Cluster", "prod", {"lanes": ["slow", "medium"]}),
        document("Lane", "fast", {"description": "again"}),
        {"apiVersion": "driftcontrol.io/v1", "kind": "Lane", "metadata": {"name": "old"}},
    ]

    problems = problems_of(documents)

    assert sorted(problems) == sorted(
        [
            "documents[1].spec.branch: unknown field; expected one of hookSecret, path, ref, url",
            "documents[2].spec.interval: must be a duration of at least 10s, like 90s, 2m or 1h",
            "documents[2].spec.mode: must be one of detect-only, enforce",
            "documents[2].spec.severity[0].level: must be one of info, low, medium, high, critical",
            "documents[2].spec.source: no GitSource named 'nowhere'",
            "documents[3].spec.lanes[1]: no Lane named 'medium'",
            "documents[3].spec.kubeconfig: is required for a new cluster",
            "documents[4]: Lane fast is already defined by documents[0]",
            "documents[5].apiVersion: must be driftcontrol.io/v1alpha1",
        ]
    )
    assert configuration_counts() == before


def test_the_exception_message_lists_the_problems_one_a_line() -> None:
    with pytest.raises(InvalidDocuments) as raised:
        declarative.plan([document("Lane", "Fast", {}), "not a document"])

    assert str(raised.value).splitlines() == [
        "documents[0].metadata.name: must be a lowercase DNS label (a-z, 0-9, '-')",
        "documents[1]: must be a mapping",
    ]


def test_it_reports_problems_nested_in_a_policy_with_their_paths() -> None:
    declarative.apply(batch()[2:], ACTOR)  # the source and the lane

    problems = problems_of(
        [
            document(
                "DriftPolicy",
                "shop",
                {
                    "source": "deploy",
                    "clusters": {"names": ["prod", ""], "zone": "eu"},
                    "namespaces": {"include": "shop"},
                    "objectSelector": {"matchExpressions": [{"key": "app", "operator": "Is"}]},
                    "remediation": {"strategy": "pray", "approvals": {"urgent": 1}, "when": 1},
                    "enabled": "yes",
                },
            )
        ]
    )

    assert sorted(problems) == sorted(
        [
            "documents[0].spec.clusters.zone: unknown field; expected names, selector",
            "documents[0].spec.clusters.names[1]: must be a non-empty string",
            "documents[0].spec.remediation.when: unknown field; expected approvals, "
            "autoRemediateUpTo, changeWindows, expiry, flapping, prune, "
            "rollbackOnFailedVerification, strategy",
            "documents[0].spec.remediation.approvals.urgent: unknown severity; "
            "use info, low, medium, high, critical",
            "documents[0].spec.enabled: must be a bool",
            "documents[0].spec.remediation.strategy: must be one of sync, rollback, alert",
            "documents[0].spec.namespaces.include: must be a list of strings",
            "documents[0].spec.objectSelector.matchExpressions[0].operator: "
            "must be one of In, NotIn, Exists, DoesNotExist",
        ]
    )


def test_a_policy_must_name_or_select_its_clusters() -> None:
    declarative.apply(batch()[2:3], ACTOR)

    problems = problems_of([document("DriftPolicy", "shop", {"source": "deploy"})])

    assert problems == [
        "documents[0].spec.clusters: name clusters (names) or select them (selector)"
    ]


@pytest.mark.parametrize(
    ("interval", "seconds"),
    [("90s", 90), ("2m", 120), ("1h", 3600), ("1h30m", 5400), ("1m5s", 65), (45, 45), (10, 10)],
)
def test_it_reads_intervals_as_durations_or_whole_seconds(interval: Any, seconds: int) -> None:
    declarative.apply(batch()[2:3], ACTOR)
    policy = document(
        "DriftPolicy",
        "shop",
        {"source": "deploy", "clusters": {"names": ["a"]}, "interval": interval},
    )

    declarative.apply([policy], ACTOR)

    assert DriftPolicy.objects.get(name="shop").interval_seconds == seconds


@pytest.mark.parametrize("interval", ["5x", "9s", 9, 0, "0m", "", "90", "1.5m", True, "2m 30s"])
def test_it_refuses_intervals_under_ten_seconds_or_not_durations(interval: Any) -> None:
    declarative.apply(batch()[2:3], ACTOR)
    policy = document(
        "DriftPolicy",
        "shop",
        {"source": "deploy", "clusters": {"names": ["a"]}, "interval": interval},
    )

    assert problems_of([policy]) == [
        "documents[0].spec.interval: must be a duration of at least 10s, like 90s, 2m or 1h"
    ]
    assert not DriftPolicy.objects.exists()


# --- cluster credentials -----------------------------------------------------------------


def test_an_inline_kubeconfig_is_stored_sealed() -> None:
    declarative.apply([document("Cluster", "prod", {"kubeconfig": KUBECONFIG})], ACTOR)

    cluster = Cluster.objects.get(name="prod")
    assert cluster.read_credentials() == KUBECONFIG
    assert "t0ken-prod" not in cluster.credentials
    assert "127.0.0.1" not in cluster.credentials
    assert cluster.api_server_url == "https://127.0.0.1:6443"


def test_a_kubeconfig_path_is_read_relative_to_the_documents_directory(tmp_path: Path) -> None:
    (tmp_path / "secrets").mkdir()
    path_config = kubeconfig(server="https://192.0.2.10:6443", token="t0ken-file")
    (tmp_path / "secrets" / "prod.yaml").write_text(path_config)
    absolute = tmp_path / "elsewhere.yaml"
    absolute.write_text(KUBECONFIG)

    declarative.apply(
        [
            document("Cluster", "prod", {"kubeconfig": "secrets/prod.yaml"}),
            document("Cluster", "dev", {"kubeconfig": str(absolute)}),
        ],
        ACTOR,
        [tmp_path, tmp_path],
    )

    prod = Cluster.objects.get(name="prod")
    assert prod.read_credentials() == path_config
    assert prod.api_server_url == "https://192.0.2.10:6443"
    assert Cluster.objects.get(name="dev").read_credentials() == KUBECONFIG


def test_a_kubeconfig_path_that_cannot_be_read_is_a_problem_of_that_field(tmp_path: Path) -> None:
    problems = problems_of(
        [document("Cluster", "prod", {"kubeconfig": "missing.yaml"})], base=tmp_path
    )

    assert problems[0] == (
        f"documents[0].spec.kubeconfig: cannot read {tmp_path / 'missing.yaml'}: "
        "No such file or directory"
    )
    assert len(problems) == 1  # not also "is required": it was given, just unreadable
    assert not Cluster.objects.exists()


def test_a_kubeconfig_without_the_named_context_is_a_problem_of_the_kubeconfig() -> None:
    dangling = KUBECONFIG.replace("current-context: prod", "current-context: gone")

    problems = problems_of(
        [
            document("Cluster", "prod", {"kubeconfig": KUBECONFIG, "context": "staging"}),
            document("Cluster", "dev", {"kubeconfig": dangling}),
            document("Cluster", "qa", {"kubeconfig": "clusters: []\nusers: []\n"}),
        ]
    )

    assert len(problems) == 3
    assert problems[0].startswith(
        "documents[0].spec.kubeconfig: the kubeconfig cannot be used with context 'staging'"
    )
    assert problems[1].startswith(
        "documents[1].spec.kubeconfig: the kubeconfig cannot be used with its current context"
    )
    assert problems[2] == "documents[2].spec.kubeconfig: the kubeconfig defines no clusters"
    assert not Cluster.objects.exists()


def test_a_named_context_of_the_kubeconfig_is_used() -> None:
    two = KUBECONFIG.replace(
        "current-context: prod",
        "- name: other\n  context:\n    cluster: other\n    user: deployer\ncurrent-context: prod",
    ).replace(
        "users:",
        "- name: other\n  cluster:\n    server: https://198.51.100.7:443\nusers:",
    )

    declarative.apply(
        [document("Cluster", "other", {"kubeconfig": two, "context": "other"})], ACTOR
    )

    cluster = Cluster.objects.get(name="other")
    assert (cluster.context, cluster.api_server_url) == ("other", "https://198.51.100.7:443")


# --- export ------------------------------------------------------------------------------


def test_export_never_contains_credentials_or_hook_secrets() -> None:
    declarative.apply(batch(), ACTOR)
    cluster = Cluster.objects.get()
    source = GitSource.objects.get()

    text = yaml.safe_dump_all(export.everything())

    for secret in ("t0ken-prod", "h00k", cluster.credentials, source.hook_secret):
        assert secret not in text
    cluster_document = export.cluster(cluster)
    assert "kubeconfig" not in cluster_document["spec"]
    assert "hookSecret" not in export.source(source)["spec"]


def test_export_applied_to_an_empty_database_reproduces_the_configuration() -> None:
    declarative.apply(batch(), ACTOR)
    declarative.apply(
        [
            document("Cluster", "lab", {"kubeconfig": KUBECONFIG, "enabled": False}),
            document(
                "DriftPolicy",
                "paused",
                {
                    "source": "deploy",
                    "clusters": {"selector": {"matchLabels": {"env": "prod"}}},
                    "enabled": False,
                    "detectUnmanaged": True,
                    "remediation": {"prune": True, "autoRemediateUpTo": "low"},
                },
            ),
        ],
        ACTOR,
    )
    exported = export.everything()
    DriftPolicy.objects.all().delete()
    Cluster.objects.all().delete()
    GitSource.objects.all().delete()
    Lane.objects.all().delete()

    # Credentials are never exported, so new clusters cannot be created from the export alone.
    problems = problems_of(copy.deepcopy(exported))
    assert problems == [
        "documents[2].spec.kubeconfig: is required for a new cluster",
        "documents[3].spec.kubeconfig: is required for a new cluster",
    ]
    with_credentials = copy.deepcopy(exported)
    for doc in with_credentials:
        if doc["kind"] == "Cluster":
            doc["spec"]["kubeconfig"] = KUBECONFIG
    results = declarative.apply(with_credentials, ACTOR)

    assert {r.action for r in results} == {"created"}
    assert export.everything() == exported
    assert DriftPolicy.objects.get(name="paused").cluster_selector == {
        "matchLabels": {"env": "prod"}
    }


def test_applying_an_export_to_the_same_database_changes_nothing() -> None:
    declarative.apply(batch(), ACTOR)
    events = AuditEvent.objects.count()

    results = declarative.apply(export.everything(), ACTOR)

    assert {r.action for r in results} == {"unchanged"}
    assert AuditEvent.objects.count() == events


# --- the commands ------------------------------------------------------------------------


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("drift", *args, stdout=out)
    return out.getvalue()


def test_drift_apply_prints_what_it_did_with_each_document(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config"
    config.mkdir()
    (config / "prod.kubeconfig").write_text(KUBECONFIG)
    documents = batch()
    documents[1]["spec"]["kubeconfig"] = "prod.kubeconfig"
    (config / "all.yaml").write_text(yaml.safe_dump_all(documents))
    monkeypatch.chdir(tmp_path)  # the kubeconfig path is relative to the file, not here

    first = run("apply", "-f", str(config / "all.yaml"))
    second = run("apply", "-f", str(config / "all.yaml"))

    assert first.splitlines() == [
        "lane/fast created",
        "gitsource/deploy created",
        "cluster/prod-eu created",
        "driftpolicy/shop created",
    ]
    assert second.splitlines() == [
        "lane/fast unchanged",
        "gitsource/deploy unchanged",
        "cluster/prod-eu unchanged",
        "driftpolicy/shop unchanged",
    ]
    assert Cluster.objects.get().read_credentials() == KUBECONFIG
    assert AuditEvent.objects.filter(action="cluster.created").get().actor.startswith("cli")


def test_drift_apply_reads_every_manifest_of_a_directory(tmp_path: Path) -> None:
    documents = batch()
    (tmp_path / "nested").mkdir()
    (tmp_path / "lanes.yml").write_text(yaml.safe_dump(documents[3]))
    (tmp_path / "nested" / "rest.json").write_text(json.dumps(documents[2]) + "\n")
    (tmp_path / "README.md").write_text("not: a document\n")

    out = run("apply", "-f", str(tmp_path))

    assert sorted(out.splitlines()) == ["gitsource/deploy created", "lane/fast created"]


def test_drift_apply_refuses_an_invalid_file_and_says_nothing_was_applied(tmp_path: Path) -> None:
    documents = batch()
    documents[0]["spec"]["interval"] = "5x"
    documents[1]["spec"]["lanes"] = ["slow"]
    path = tmp_path / "all.yaml"
    path.write_text(yaml.safe_dump_all(documents))
    before = configuration_counts()

    with pytest.raises(CommandError) as raised:
        run("apply", "-f", str(path))

    message = str(raised.value)
    assert message.splitlines() == [
        "2 problem(s), nothing applied:",
        "  documents[0].spec.interval: must be a duration of at least 10s, like 90s, 2m or 1h",
        "  documents[1].spec.lanes[0]: no Lane named 'slow'",
    ]
    assert configuration_counts() == before


def test_drift_apply_refuses_a_file_that_is_not_yaml_or_has_no_documents(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("kind: Lane\n  name: [unclosed\n")
    empty = tmp_path / "empty.yaml"
    empty.write_text("---\n# nothing\n")

    with pytest.raises(CommandError, match=f"{broken} is not valid YAML"):
        run("apply", "-f", str(broken))
    with pytest.raises(CommandError, match="no documents found in"):
        run("apply", "-f", str(empty))
    with pytest.raises(CommandError, match="cannot read .*missing.yaml"):
        run("apply", "-f", str(tmp_path / "missing.yaml"))


def test_drift_apply_resolves_kubeconfig_paths_against_each_files_own_directory(
    tmp_path: Path,
) -> None:
    for team in ("payments", "search"):
        (tmp_path / team).mkdir()
        (tmp_path / team / "kubeconfig").write_text(kubeconfig(token=f"t0ken-{team}"))
        (tmp_path / team / "cluster.yaml").write_text(
            yaml.safe_dump(document("Cluster", team, {"kubeconfig": "kubeconfig"}))
        )

    run(
        "apply",
        "-f",
        str(tmp_path / "payments" / "cluster.yaml"),
        "-f",
        str(tmp_path / "search" / "cluster.yaml"),
    )

    assert "t0ken-search" in Cluster.objects.get(name="search").read_credentials()
    assert "t0ken-payments" in Cluster.objects.get(name="payments").read_credentials()


def test_drift_apply_resolves_kubeconfig_paths_of_nested_files_against_their_directory(
    tmp_path: Path,
) -> None:
    (tmp_path / "clusters").mkdir()
    (tmp_path / "clusters" / "prod.kubeconfig").write_text(KUBECONFIG)
    (tmp_path / "clusters" / "prod.yaml").write_text(
        yaml.safe_dump(document("Cluster", "prod", {"kubeconfig": "prod.kubeconfig"}))
    )

    run("apply", "-f", str(tmp_path))

    assert Cluster.objects.get(name="prod").read_credentials() == KUBECONFIG


def test_drift_export_prints_documents_that_apply_cleanly(tmp_path: Path) -> None:
    declarative.apply(batch(), ACTOR)

    out = run("export")

    printed = list(yaml.safe_load_all(out))
    assert printed == export.everything()
    assert [(d["kind"], d["metadata"]["name"]) for d in printed] == [
        ("Lane", "fast"),
        ("GitSource", "deploy"),
        ("Cluster", "prod-eu"),
        ("DriftPolicy", "shop"),
    ]
    assert "t0ken" not in out and "h00k" not in out
    (tmp_path / "export.yaml").write_text(out)
    assert run("apply", "-f", str(tmp_path / "export.yaml")).split() == [
        "lane/fast",
        "unchanged",
        "gitsource/deploy",
        "unchanged",
        "cluster/prod-eu",
        "unchanged",
        "driftpolicy/shop",
        "unchanged",
    ]


# --- holes in validation -----------------------------------------------------------------


def test_approvals_that_are_not_a_mapping_are_a_problem_not_a_crash() -> None:
    declarative.apply(batch()[2:3], ACTOR)
    policy = document(
        "DriftPolicy",
        "shop",
        {"source": "deploy", "clusters": {"names": ["a"]}, "remediation": {"approvals": [2]}},
    )

    assert problems_of([policy]) == [
        "documents[0].spec.remediation.approvals: must map severities to a number of approvers"
    ]


def test_prune_must_be_a_boolean() -> None:
    declarative.apply(batch()[2:3], ACTOR)
    policy = document(
        "DriftPolicy",
        "shop",
        {"source": "deploy", "clusters": {"names": ["a"]}, "remediation": {"prune": "false"}},
    )

    problems = problems_of([policy])

    assert [p.split(":")[0] for p in problems] == ["documents[0].spec.remediation.prune"]


def test_a_namespace_the_model_cannot_hold_is_reported_with_its_path() -> None:
    declarative.apply(batch()[2:3], ACTOR)
    policy = document(
        "DriftPolicy",
        "shop",
        {"source": "deploy", "clusters": {"names": ["a"]}, "namespace": "n" * 64},
    )

    problems = problems_of([policy])

    assert [p.split(":")[0] for p in problems] == ["documents[0].spec.namespace"]


@pytest.mark.parametrize(
    "broken",
    [
        {"sepc": {"namespaces": ["shop-*"]}},
        {"spec": ["namespaces", "shop-*"]},
    ],
    ids=["misspelled-spec", "spec-not-a-mapping"],
)
def test_a_document_whose_spec_cannot_be_read_is_refused(broken: dict[str, Any]) -> None:
    declarative.apply([document("Lane", "fast", {"namespaces": ["shop-*"]})], ACTOR)
    lane = {"apiVersion": API, "kind": "Lane", "metadata": {"name": "fast"}, **broken}

    problems = problems_of([lane])

    assert len(problems) == 1
    assert problems[0].startswith(("documents[0].spec: ", "documents[0].sepc: "))
    assert Lane.objects.get(name="fast").namespaces == ["shop-*"]


def test_a_lane_says_what_its_workloads_may_use_and_exports_it_back() -> None:
    lane = {
        "apiVersion": "driftcontrol.io/v1alpha1",
        "kind": "Lane",
        "metadata": {"name": "controlled"},
        "spec": {
            "namespaces": ["shop"],
            "registries": ["registry.example.com/shop/"],
            "serviceAccounts": ["web", "api-*"],
            "secrets": ["shop-*"],
        },
    }

    declarative.apply([lane], ACTOR)

    stored = Lane.objects.get(name="controlled")
    assert (stored.registries, stored.service_accounts, stored.secrets) == (
        ["registry.example.com/shop/"],
        ["web", "api-*"],
        ["shop-*"],
    )
    assert export.lane(stored)["spec"] == lane["spec"]
    with pytest.raises(InvalidDocuments) as refused:
        declarative.apply([{**lane, "spec": {"secrets": "shop-*"}}], ACTOR)
    assert "documents[0].spec.secrets" in str(refused.value.problems)
