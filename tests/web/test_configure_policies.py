"""Policies in the dashboard's YAML editor: validating as `drift apply` does, a dry run
that saves nothing, and saving; only admins may do any of it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from django.urls import reverse

from drift.declarative import export
from drift.models import DriftPolicy, Finding, GitSource, Scan
from driftcontrol.models import AuditEvent
from tests.factories import ClusterFactory, DriftPolicyFactory, GitSourceFactory
from tests.gitwork import git

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}

DOCUMENT = """\
apiVersion: driftcontrol.io/v1alpha1
kind: DriftPolicy
metadata:
  name: payments
spec:
  source: shop
  clusters: {names: [east]}
  namespace: payments
  interval: 5m
"""


@pytest.fixture
def shop_source(db: None, tmp_path: Path) -> GitSource:
    """A source in a real repository: a ConfigMap under k8s/."""
    repo = tmp_path / "deploy"
    (repo / "k8s").mkdir(parents=True)
    (repo / "k8s" / "settings.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {mode: live}\n"
    )
    git(repo, "init", "--quiet")
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "-m", "settings")
    return GitSourceFactory(name="shop", url=str(repo), ref="main", path="k8s")


@pytest.fixture
def east_cluster(db: None) -> Any:
    """A cluster with no credentials: nothing can read it."""
    return ClusterFactory(name="east")


@pytest.fixture
def shop_policy(shop_source: GitSource, east_cluster: Any) -> DriftPolicy:
    policy = DriftPolicyFactory(name="shop", source=shop_source, cluster_names=["east"])
    policy.refresh_from_db()  # the values as stored: the choices as text
    return policy


# --- who may -------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["viewer", "operator", "approver"])
def test_only_admins_may_add_edit_validate_or_dry_run_a_policy(
    client: Any, request: Any, role: str, shop_policy: DriftPolicy
) -> None:
    client.force_login(request.getfixturevalue(role))
    posted = {"document": DOCUMENT}

    answers = [
        client.get(reverse("policy-new")),
        client.post(reverse("policy-new"), posted),
        client.get(reverse("policy-edit", args=["shop"])),
        client.post(reverse("policy-edit", args=["shop"]), posted),
        client.post(reverse("policy-validate"), posted, **HTMX),
        client.post(reverse("policy-dry-run"), posted, **HTMX),
    ]

    assert [a.status_code for a in answers] == [403] * 6
    assert list(DriftPolicy.objects.values_list("name", flat=True)) == ["shop"]
    list_page = client.get(reverse("policies")).content.decode()
    detail = client.get(reverse("policy", args=["shop"])).content.decode()
    assert "Add policy" not in list_page and "/policies/shop/edit" not in detail


def test_admins_see_add_and_edit(client: Any, admin_user: Any, shop_policy: DriftPolicy) -> None:
    client.force_login(admin_user)

    assert 'href="/policies/new"' in client.get(reverse("policies")).content.decode()
    detail = client.get(reverse("policy", args=["shop"])).content.decode()
    assert 'href="/policies/shop/edit"' in detail
    assert "Preview enforce mode" in detail  # the ledger's preview stays as it was


# --- validate --------------------------------------------------------------------------------


def test_the_template_for_a_new_policy_names_a_source_and_validates(
    client: Any, admin_user: Any, shop_source: GitSource, east_cluster: Any
) -> None:
    client.force_login(admin_user)

    template = client.get(reverse("policy-new")).context["form"].initial["document"]
    answer = client.post(reverse("policy-validate"), {"document": template}, **HTMX)

    assert "  source: shop" in template and "names: [east]" in template
    assert "Valid: <code>drift apply</code> would accept this document." in answer.content.decode()


def test_a_yaml_error_names_its_line_and_column(
    client: Any, admin_user: Any, shop_source: GitSource
) -> None:
    client.force_login(admin_user)
    broken = DOCUMENT.replace("  interval: 5m", "  interval: [5m")

    response = client.post(reverse("policy-validate"), {"document": broken}, **HTMX)

    problems = response.context["problems"]
    assert [p.path for p in problems] == ["document"]
    assert problems[0].message.startswith("is not valid YAML at line 10, column 1:")


def test_validate_lists_every_problem_with_its_path(
    client: Any, admin_user: Any, shop_source: GitSource
) -> None:
    client.force_login(admin_user)
    wrong = DOCUMENT.replace("interval: 5m", "interval: 1s").replace("shop", "nowhere")

    response = client.post(reverse("policy-validate"), {"document": wrong}, **HTMX)

    text = response.content.decode()
    assert response.status_code == 200 and "<html" not in text
    assert {p.path: p.message for p in response.context["problems"]} == {
        "spec.interval": "must be a duration of at least 10s, like 90s, 2m or 1h",
        "spec.source": "no GitSource named 'nowhere'",
    }
    assert "<strong>2 problems</strong>; nothing was saved." in text


@pytest.mark.parametrize(
    ("document", "path", "message"),
    [
        ("[1, 2]", "document", "must be a mapping with apiVersion, kind, metadata and spec"),
        (DOCUMENT.replace("kind: DriftPolicy", "kind: GitSource"), "kind", "must be DriftPolicy"),
        (DOCUMENT.replace("v1alpha1", "v1"), "apiVersion", "must be driftcontrol.io/v1alpha1"),
        (DOCUMENT.replace("name: payments", "name: Pay_Ments"), "metadata.name", "must be a "),
        (DOCUMENT + "---\n" + DOCUMENT, "document", "holds several documents"),
    ],
)
def test_the_envelope_is_checked_first(
    client: Any, admin_user: Any, document: str, path: str, message: str
) -> None:
    client.force_login(admin_user)

    response = client.post(reverse("policy-validate"), {"document": document}, **HTMX)

    [problem] = response.context["problems"]
    assert problem.path == path and problem.message.startswith(message)


def test_without_htmx_validate_answers_with_the_editor_and_the_text(
    client: Any, admin_user: Any, shop_policy: DriftPolicy
) -> None:
    client.force_login(admin_user)
    renamed = DOCUMENT.replace("name: payments", "name: other")

    response = client.post(reverse("policy-validate"), {"document": renamed, "editing": "shop"})

    text = response.content.decode()
    assert response.status_code == 200 and "<html" in text
    assert 'action="/policies/shop/edit"' in text
    assert "name: other" in text  # the text as typed, in the editor
    assert "must stay shop: a policy keeps its name once made" in text


# --- save ------------------------------------------------------------------------------------


def test_an_admin_adds_a_policy_through_the_same_validation_as_drift_apply(
    client: Any, admin_user: Any, shop_source: GitSource, east_cluster: Any
) -> None:
    client.force_login(admin_user)

    response = client.post(reverse("policy-new"), {"document": DOCUMENT}, follow=True)

    assert response.redirect_chain == [(reverse("policy", args=["payments"]), 302)]
    assert "Policy payments is added." in response.content.decode()
    policy = DriftPolicy.objects.get(name="payments")
    assert (policy.source, policy.interval_seconds, policy.default_namespace) == (
        shop_source,
        300,
        "payments",
    )
    event = AuditEvent.objects.get(action="driftpolicy.created")
    assert event.data["via"] == "dashboard"


def test_a_refused_save_keeps_the_text_and_lists_the_problems_above_the_editor(
    client: Any, admin_user: Any, shop_source: GitSource
) -> None:
    client.force_login(admin_user)
    wrong = DOCUMENT.replace("interval: 5m", "interval: soon")

    response = client.post(reverse("policy-new"), {"document": wrong})

    text = response.content.decode()
    assert response.status_code == 400
    assert "interval: soon" in text
    assert "<code>spec.interval</code>: must be a duration" in text
    assert text.index("spec.interval</code>") < text.index("<textarea")
    assert not DriftPolicy.objects.exists() and not AuditEvent.objects.exists()


def test_a_new_policy_does_not_replace_one_of_the_same_name(
    client: Any, admin_user: Any, shop_policy: DriftPolicy
) -> None:
    client.force_login(admin_user)

    response = client.post(
        reverse("policy-new"), {"document": DOCUMENT.replace("name: payments", "name: shop")}
    )

    assert response.status_code == 400
    assert "a DriftPolicy named shop exists already: edit it instead" in response.content.decode()
    shop_policy.refresh_from_db()
    assert shop_policy.default_namespace == "default"


def test_an_edit_starts_from_the_stored_document_and_saves_a_change(
    client: Any, admin_user: Any, shop_policy: DriftPolicy
) -> None:
    client.force_login(admin_user)
    stored = yaml.safe_dump(export.policy(shop_policy), sort_keys=False, default_flow_style=False)

    page = client.get(reverse("policy-edit", args=["shop"]))
    response = client.post(
        reverse("policy-edit", args=["shop"]),
        {"document": stored.replace("interval: 120s", "interval: 10m"), "editing": "shop"},
    )

    assert page.context["form"].initial["document"] == stored
    assert response.status_code == 302 and response["Location"] == "/policies/shop/"
    shop_policy.refresh_from_db()
    assert shop_policy.interval_seconds == 600
    assert AuditEvent.objects.get().data["changed"] == ["interval_seconds"]


def test_an_edit_may_not_rename_the_policy(
    client: Any, admin_user: Any, shop_policy: DriftPolicy
) -> None:
    client.force_login(admin_user)
    stored = yaml.safe_dump(export.policy(shop_policy), sort_keys=False)

    response = client.post(
        reverse("policy-edit", args=["shop"]),
        {"document": stored.replace("name: shop", "name: renamed")},
    )

    assert response.status_code == 400
    assert list(DriftPolicy.objects.values_list("name", flat=True)) == ["shop"]


# --- dry run ---------------------------------------------------------------------------------


def test_a_dry_run_says_which_cluster_could_not_be_read_and_saves_nothing(
    client: Any, admin_user: Any, shop_source: GitSource, east_cluster: Any
) -> None:
    client.force_login(admin_user)

    response = client.post(reverse("policy-dry-run"), {"document": DOCUMENT}, **HTMX)

    text = response.content.decode()
    assert response.status_code == 200 and "<html" not in text
    assert "<strong>Nothing was saved.</strong>" in text
    assert "Cluster east could not be read: cluster east has no credentials" in text
    assert not DriftPolicy.objects.exists()
    assert (Scan.objects.count(), Finding.objects.count(), AuditEvent.objects.count()) == (0, 0, 0)
    shop_source.refresh_from_db()
    east_cluster.refresh_from_db()
    assert (shop_source.last_revision, east_cluster.last_error) == ("", "")


def test_a_dry_run_of_an_invalid_document_lists_its_problems(
    client: Any, admin_user: Any, shop_source: GitSource
) -> None:
    client.force_login(admin_user)

    response = client.post(
        reverse("policy-dry-run"), {"document": DOCUMENT.replace("5m", "never")}, **HTMX
    )

    assert "The document is not valid, so it was not run" in response.content.decode()
    assert [p.path for p in response.context["problems"]] == ["spec.interval"]


def test_a_dry_run_that_targets_no_cluster_says_so_and_works_without_htmx(
    client: Any, admin_user: Any, shop_source: GitSource
) -> None:
    client.force_login(admin_user)

    response = client.post(reverse("policy-dry-run"), {"document": DOCUMENT})

    text = response.content.decode()
    assert "<html" in text and 'action="/policies/new"' in text
    assert "No enabled cluster matches the document" in text
    assert "name: payments" in text
