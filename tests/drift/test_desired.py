"""Desired state (drift.services.desired): real Git repositories made in tmp_path, read
through the Git door, and a Discovery built by hand in place of a cluster's."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from drift.engine.normalize import ObjectKey
from drift.kube import Discovery, Resource
from drift.models import DriftPolicy, GitSource
from drift.services import desired
from drift.services.desired import Scope, for_cluster, read_revision
from tests.gitwork import git

pytestmark = pytest.mark.usefixtures("fresh_revisions")

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web, tier: front}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx:1.25
"""

SERVICE = """\
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: payments
spec:
  selector: {app: web}
  ports:
  - port: 80
"""

CLUSTER_ROLE = """\
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: reader
  namespace: ignored-for-cluster-scoped
rules:
- apiGroups: [""]
  resources: [configmaps]
  verbs: [get]
"""

CONFIG_MAP_JSON = """\
{
  "apiVersion": "v1",
  "kind": "ConfigMap",
  "metadata": {"name": "settings", "labels": {"tier": "back"}},
  "data": {"mode": "fast"}
}
"""


def commit(repo: Path, files: dict[str, str], remove: tuple[str, ...] = ()) -> str:
    for name, content in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(content)
    for name in remove:
        (repo / name).unlink()
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "--allow-empty", "-m", "change")
    return git(repo, "rev-parse", "HEAD")


def source_of(repo: Path, path: str = "k8s", ref: str = "main") -> GitSource:
    return GitSource(name="deploy", url=str(repo), ref=ref, path=path)


def policy(**fields: Any) -> DriftPolicy:
    return DriftPolicy(name="shop", default_namespace="shop", **fields)


def resource(api_version: str, kind: str, plural: str, namespaced: bool = True) -> Resource:
    group, _, version = api_version.rpartition("/")
    return Resource(group, version, kind, plural, namespaced, frozenset({"get", "list", "watch"}))


def discovery() -> Discovery:
    served = [
        resource("v1", "ConfigMap", "configmaps"),
        resource("v1", "Service", "services"),
        resource("v1", "Secret", "secrets"),
        resource("v1", "Namespace", "namespaces", namespaced=False),
        resource("apps/v1", "Deployment", "deployments"),
        resource("rbac.authorization.k8s.io/v1", "ClusterRole", "clusterroles", namespaced=False),
    ]
    return Discovery(
        resources={(r.api_version, r.kind): r for r in served},
        preferred={(r.group, r.kind): r for r in served},
    )


def state_of(repo: Path, scoped: DriftPolicy | None = None, path: str = "k8s") -> Any:
    revision = read_revision(source_of(repo, path))
    return for_cluster(revision, scoped or policy(), discovery(), desired.secret_hasher())


def names(state: Any) -> list[str]:
    return sorted(f"{k.kind}/{k.namespace}/{k.name}" for k in state.objects)


# --- reading a revision ------------------------------------------------------------------


def test_it_reads_every_manifest_below_the_path_at_the_commit(repo: Path) -> None:
    sha = commit(
        repo,
        {
            "k8s/app.yaml": f"---\n# only a comment\n---\n{DEPLOYMENT}---\n---\n{SERVICE}",
            "k8s/nested/deeper/settings.json": CONFIG_MAP_JSON,
            "k8s/rbac.yml": CLUSTER_ROLE,
            "k8s/README.md": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: readme}\n",
            "docs/example.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: outside}\n",
        },
    )
    (repo / "k8s" / "uncommitted.yaml").write_text(SERVICE.replace("web", "draft"))

    revision = read_revision(source_of(repo))

    assert revision.sha == sha
    assert revision.errors == []
    assert revision.files == 3
    assert [(d.file, d.obj["kind"], d.obj["metadata"]["name"]) for d in revision.documents] == [
        ("k8s/app.yaml", "Deployment", "web"),
        ("k8s/app.yaml", "Service", "web"),
        ("k8s/nested/deeper/settings.json", "ConfigMap", "settings"),
        ("k8s/rbac.yml", "ClusterRole", "reader"),
    ]
    app = [d for d in revision.documents if d.file == "k8s/app.yaml"]
    lines = (repo / "k8s/app.yaml").read_text().splitlines()
    assert [lines[d.line - 1] for d in app] == ["apiVersion: apps/v1", "apiVersion: v1"]
    assert app[0].source == f"k8s/app.yaml:{app[0].line}"


def test_it_reads_the_commit_the_ref_names_now(repo: Path) -> None:
    first = commit(repo, {"k8s/app.yaml": DEPLOYMENT})
    git(repo, "checkout", "--quiet", "-b", "feature")
    commit(repo, {"k8s/extra.yaml": SERVICE})
    git(repo, "checkout", "--quiet", "main")

    assert read_revision(source_of(repo)).sha == first
    assert len(read_revision(source_of(repo, ref="feature")).documents) == 2

    second = commit(repo, {"k8s/app.yaml": DEPLOYMENT.replace("replicas: 2", "replicas: 3")})
    revision = read_revision(source_of(repo))
    assert revision.sha == second
    assert revision.documents[0].obj["spec"]["replicas"] == 3


def test_a_revision_is_parsed_once_per_commit_and_path(repo: Path) -> None:
    commit(repo, {"k8s/app.yaml": DEPLOYMENT})

    assert read_revision(source_of(repo)) is read_revision(source_of(repo))
    assert read_revision(source_of(repo)) is not read_revision(source_of(repo, path=""))


def test_a_file_that_does_not_parse_is_an_error_with_its_line_and_yields_nothing(
    repo: Path,
) -> None:
    broken = f"{SERVICE}---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [oops\n"
    commit(
        repo,
        {
            "k8s/app.yaml": DEPLOYMENT,
            "k8s/broken.yaml": broken,
            "k8s/bad.json": '{"apiVersion": "v1",\n "kind": }',
            "k8s/nameless.yaml": "apiVersion: v1\nkind: ConfigMap\ndata: {a: b}\n",
        },
    )

    state = state_of(repo)

    assert [(e.file, e.line) for e in state.errors] == [
        ("k8s/bad.json", 2),
        ("k8s/broken.yaml", 15),
        ("k8s/nameless.yaml", 1),
    ]
    assert "invalid YAML" in state.errors[1].message
    assert str(state.errors[2]) == "k8s/nameless.yaml:1: the ConfigMap has no metadata.name"
    # The Service before the syntax error is not trusted either.
    assert names(state) == ["Deployment/shop/web"]
    assert not state.complete


# --- for one cluster ---------------------------------------------------------------------


def test_it_fills_the_default_namespace_and_drops_it_from_cluster_scoped_kinds(
    repo: Path,
) -> None:
    commit(
        repo,
        {
            "k8s/app.yaml": f"{DEPLOYMENT}---\n{SERVICE}",
            "k8s/settings.json": CONFIG_MAP_JSON,
            "k8s/rbac.yaml": CLUSTER_ROLE,
            "k8s/ns.yaml": "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n",
        },
    )

    state = state_of(repo)

    assert state.complete
    assert names(state) == [
        "ClusterRole//reader",
        "ConfigMap/shop/settings",
        "Deployment/shop/web",
        "Namespace//shop",
        "Service/payments/web",
    ]
    role = state.objects[ObjectKey("rbac.authorization.k8s.io", "ClusterRole", "", "reader")]
    assert "namespace" not in role.manifest["metadata"]
    web = state.objects[ObjectKey("apps", "Deployment", "shop", "web")]
    assert web.manifest["metadata"]["namespace"] == "shop"
    assert web.api_version == "apps/v1"
    assert web.source.startswith("k8s/app.yaml:")
    assert web.body["spec"]["replicas"] == 2
    assert web.body["metadata"] == {"labels": {"app": "web", "tier": "front"}}
    assert "apiVersion" not in web.body and "kind" not in web.body
    assert state.kinds() == {
        ("apps/v1", "Deployment"),
        ("v1", "Service"),
        ("v1", "ConfigMap"),
        ("rbac.authorization.k8s.io/v1", "ClusterRole"),
        ("v1", "Namespace"),
    }
    assert state.revision == git(repo, "rev-parse", "HEAD")


def test_the_policy_scope_filters_namespaces_kinds_and_labels(repo: Path) -> None:
    commit(
        repo,
        {
            "k8s/app.yaml": f"{DEPLOYMENT}---\n{SERVICE}",
            "k8s/more.yaml": DEPLOYMENT.replace("name: web", "name: scratch-web").replace(
                "labels: {app: web, tier: front}",
                "labels: {app: web, tier: front}\n  namespace: shop-scratch",
            ),
            "k8s/shop-eu.yaml": SERVICE.replace("payments", "shop-eu"),
            "k8s/settings.json": CONFIG_MAP_JSON,
            "k8s/rbac.yaml": CLUSTER_ROLE,
        },
    )

    by_namespace = state_of(
        repo, policy(namespaces={"include": ["shop*"], "exclude": ["*-scratch"]})
    )
    by_kind = state_of(repo, policy(kinds={"include": ["*"], "exclude": ["Service", "Cluster*"]}))
    only_kinds = state_of(repo, policy(kinds={"include": ["Service"], "exclude": []}))
    by_label = state_of(
        repo,
        policy(
            object_selector={
                "matchExpressions": [{"key": "tier", "operator": "In", "values": ["front"]}]
            }
        ),
    )

    # Cluster-scoped objects have no namespace to filter on.
    assert names(by_namespace) == [
        "ClusterRole//reader",
        "ConfigMap/shop/settings",
        "Deployment/shop/web",
        "Service/shop-eu/web",
    ]
    assert names(by_kind) == [
        "ConfigMap/shop/settings",
        "Deployment/shop-scratch/scratch-web",
        "Deployment/shop/web",
    ]
    assert names(only_kinds) == ["Service/payments/web", "Service/shop-eu/web"]
    assert names(by_label) == ["Deployment/shop-scratch/scratch-web", "Deployment/shop/web"]


def test_scope_lists_exact_namespaces_one_by_one_and_globs_across_all() -> None:
    assert Scope.of(policy(namespaces={"include": ["b", "a"]})).listed_namespaces() == ["a", "b"]
    assert Scope.of(policy(namespaces={"include": ["a", "shop-*"]})).listed_namespaces() is None
    assert Scope.of(policy()).listed_namespaces() is None
    scope = Scope.of(policy(object_selector={"matchLabels": {"app": "web"}}))
    assert scope.covers(ObjectKey("", "ConfigMap", "x", "y"), {"app": "web", "more": "1"})
    assert not scope.covers(ObjectKey("", "ConfigMap", "x", "y"), None)


def test_an_object_declared_twice_is_an_error_and_the_first_one_counts(repo: Path) -> None:
    commit(
        repo,
        {
            "k8s/a.yaml": DEPLOYMENT,
            # The same object: the namespace is only filled in by the default.
            "k8s/b.yaml": DEPLOYMENT.replace("replicas: 2", "replicas: 5").replace(
                "name: web\n", "name: web\n  namespace: shop\n", 1
            ),
        },
    )

    state = state_of(repo)

    assert [str(e) for e in state.errors] == [
        "k8s/b.yaml:1: Deployment.apps shop/web is also declared at k8s/a.yaml:1"
    ]
    assert (
        state.objects[ObjectKey("apps", "Deployment", "shop", "web")].body["spec"]["replicas"] == 2
    )
    assert not state.complete


def test_a_duplicate_outside_the_scope_is_not_an_error(repo: Path) -> None:
    commit(repo, {"k8s/a.yaml": DEPLOYMENT, "k8s/b.yaml": DEPLOYMENT})

    state = state_of(repo, policy(kinds={"include": ["ConfigMap"]}))

    assert state.complete and state.objects == {}


def test_a_kind_the_cluster_does_not_serve_is_an_error(repo: Path) -> None:
    commit(
        repo,
        {
            "k8s/app.yaml": DEPLOYMENT,
            "k8s/crd.yaml": "apiVersion: monitoring.coreos.com/v1\nkind: ServiceMonitor\n"
            "metadata: {name: web}\nspec: {}\n",
        },
    )

    state = state_of(repo)

    assert [str(e) for e in state.errors] == [
        "k8s/crd.yaml:1: ServiceMonitor (monitoring.coreos.com/v1) is not served by this cluster"
    ]
    assert names(state) == ["Deployment/shop/web"]
    assert not state.complete


def test_secret_values_never_reach_the_compared_body(repo: Path) -> None:
    password = "hunter2-very-secret"
    encoded = base64.b64encode(password.encode()).decode()
    commit(
        repo,
        {
            "k8s/secret.yaml": f"""\
apiVersion: v1
kind: Secret
metadata: {{name: db}}
type: Opaque
data:
  password: {encoded}
stringData:
  token: plain-token-value
""",
        },
    )
    hasher = desired.secret_hasher()

    state = state_of(repo)

    body = state.objects[ObjectKey("", "Secret", "shop", "db")].body
    assert "stringData" not in body
    assert body["data"] == {
        "password": hasher(password.encode()),
        "token": hasher(b"plain-token-value"),
    }
    assert all(value.startswith("hmac-sha256:") for value in body["data"].values())
    for plaintext in (password, encoded, "plain-token-value"):
        assert plaintext not in repr(body)


# --- kustomize ---------------------------------------------------------------------------

CONFIG_MAP = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata: {mode: fast}\n"


def test_a_kustomization_is_built_and_its_files_are_not_read_raw(repo: Path) -> None:
    commit(
        repo,
        {
            "k8s/app/kustomization.yaml": "namePrefix: prod-\nnamespace: shop-prod\n"
            "commonLabels: {env: prod}\nresources:\n- deploy.yaml\n- settings.yaml\n",
            "k8s/app/deploy.yaml": DEPLOYMENT,
            "k8s/app/settings.yaml": CONFIG_MAP,
            "k8s/app/unused/extra.yaml": SERVICE,
            "k8s/plain.yaml": CLUSTER_ROLE,
        },
    )

    revision = read_revision(source_of(repo))
    state = for_cluster(revision, policy(), discovery(), desired.secret_hasher())

    assert revision.errors == []
    assert revision.files == 2  # plain.yaml and one kustomize build
    assert names(state) == [
        "ClusterRole//reader",
        "ConfigMap/shop-prod/prod-settings",
        "Deployment/shop-prod/prod-web",
    ]
    web = state.objects[ObjectKey("apps", "Deployment", "shop-prod", "prod-web")]
    assert web.source.startswith("k8s/app/ (kustomize build):")
    assert web.manifest["metadata"]["labels"]["env"] == "prod"


def test_an_overlay_may_use_a_base_outside_the_sources_path(repo: Path) -> None:
    commit(
        repo,
        {
            "base/kustomization.yaml": "resources:\n- deploy.yaml\n",
            "base/deploy.yaml": DEPLOYMENT,
            # kubectl 1.20's kustomize (v2) takes directories only under `bases:`.
            "k8s/prod/Kustomization": "namePrefix: prod-\nbases:\n- ../../base\n",
        },
    )

    state = state_of(repo)

    assert state.errors == []
    assert names(state) == ["Deployment/shop/prod-web"]


def test_a_kustomization_that_does_not_build_is_an_error_and_yields_nothing(repo: Path) -> None:
    commit(
        repo,
        {
            "k8s/app/kustomization.yaml": "resources:\n- deploy.yaml\n- missing.yaml\n",
            "k8s/app/deploy.yaml": DEPLOYMENT,
            "k8s/plain.yaml": CONFIG_MAP,
        },
    )

    state = state_of(repo)

    assert len(state.errors) == 1
    error = state.errors[0]
    assert (error.file, error.line) == ("k8s/app/ (kustomize build)", None)
    assert "missing.yaml" in error.message
    assert names(state) == ["ConfigMap/shop/settings"]
    assert not state.complete


FLAKY_KUSTOMIZE = """\
#!/bin/sh
# Answers `version`; its first build fails as a remote base's fetch would, later ones work.
[ "$1" = version ] && { echo v5.0.0; exit 0; }
marker="$(dirname "$0")/failed-once"
if [ ! -e "$marker" ]; then
  touch "$marker"
  echo "Error: accumulating resources: fetching github.com/acme/base: connection reset" >&2
  exit 1
fi
printf 'apiVersion: v1\\nkind: ConfigMap\\nmetadata:\\n  name: built\\n'
"""


def test_a_transient_kustomize_failure_is_not_remembered_for_the_commit(
    repo: Path, tmp_path: Path, settings: Any
) -> None:
    flaky = tmp_path / "bin" / "kustomize"
    flaky.parent.mkdir()
    flaky.write_text(FLAKY_KUSTOMIZE)
    flaky.chmod(0o755)
    settings.DRIFTCONTROL_KUSTOMIZE = str(flaky)
    commit(
        repo,
        {
            "k8s/app/kustomization.yaml": "resources:\n- github.com/acme/base\n",
            "k8s/app/deploy.yaml": DEPLOYMENT,
        },
    )
    first = read_revision(source_of(repo))
    assert "connection reset" in str(first.errors[0])

    again = read_revision(source_of(repo))

    assert again.errors == []
    assert [d.obj["metadata"]["name"] for d in again.documents] == ["built"]
