"""Git sources in the dashboard: the list every viewer sees, and adding, editing and test
fetching a source, which only admins may do."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from drift.models import GitSource
from driftcontrol.crypto import seal, unseal
from driftcontrol.models import AuditEvent
from tests.factories import DriftPolicyFactory, GitSourceFactory
from tests.gitwork import git

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def deploy_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "deploy"
    (repo / "k8s").mkdir(parents=True)
    (repo / "k8s" / "web.yaml").write_text("kind: Deployment\n")
    git(repo, "init", "--quiet")
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "-m", "web")
    git(repo, "branch", "staging")
    return repo


@pytest.fixture
def shop_source(db: None) -> GitSource:
    source = GitSourceFactory(name="shop", url="/srv/git/shop.git", ref="main", path="k8s")
    source.hook_secret = seal("old-hook-secret")
    source.save()
    return source


def source_form(**fields: str) -> dict[str, str]:
    return {"name": "shop", "url": "/srv/git/shop.git", "ref": "main", "path": "k8s"} | fields


# --- the list ------------------------------------------------------------------------------


def test_every_viewer_sees_sources_with_their_policies_but_no_password(
    client: Any, viewer: Any
) -> None:
    source = GitSourceFactory(
        name="shop",
        url="https://deploy:t0ken-value@git.example.com/shop.git",
        last_revision="0123456789abcdef0123",
        last_error="git fetch failed: connection refused",
    )
    DriftPolicyFactory(name="shop-prod", source=source)
    DriftPolicyFactory(name="shop-staging", source=source)
    client.force_login(viewer)

    text = client.get(reverse("sources")).content.decode()

    assert "https://deploy:***@git.example.com/shop.git" in text
    assert "t0ken-value" not in text
    assert "0123456789ab" in text and "connection refused" in text
    assert 'href="/policies/shop-prod/">shop-prod</a>' in text
    assert 'href="/policies/shop-staging/">shop-staging</a>' in text
    assert "Add source" not in text and "/sources/shop/edit" not in text


def test_admins_see_the_add_and_edit_buttons(
    client: Any, admin_user: Any, shop_source: Any
) -> None:
    client.force_login(admin_user)

    text = client.get(reverse("sources")).content.decode()

    assert 'href="/sources/new"' in text and 'href="/sources/shop/edit"' in text
    assert 'href="/sources/" >Sources</a>' in client.get(reverse("policies")).content.decode()


def test_the_list_costs_the_same_for_5_and_for_20_sources(client: Any, viewer: Any) -> None:
    def grow(n: int) -> None:
        for _ in range(n):
            DriftPolicyFactory(source=DriftPolicyFactory().source)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse("sources")).status_code == 200
        return len(captured)

    client.force_login(viewer)
    grow(5)
    client.get(reverse("sources"))
    few = queries()
    grow(15)

    assert queries() == few


# --- who may change sources -----------------------------------------------------------------


@pytest.mark.parametrize("role", ["viewer", "operator", "approver"])
def test_only_admins_may_add_edit_or_test_fetch_a_source(
    client: Any, request: Any, role: str, shop_source: Any
) -> None:
    client.force_login(request.getfixturevalue(role))

    answers = [
        client.get(reverse("source-new")),
        client.post(reverse("source-new"), source_form(name="other")),
        client.get(reverse("source-edit", args=["shop"])),
        client.post(reverse("source-edit", args=["shop"]), source_form(url="/srv/git/evil.git")),
        client.post(reverse("source-test-fetch"), source_form(), **HTMX),
    ]

    assert [a.status_code for a in answers] == [403] * 5
    assert list(GitSource.objects.values_list("name", "url")) == [("shop", "/srv/git/shop.git")]


# --- adding ----------------------------------------------------------------------------------


def test_an_admin_adds_a_source_with_a_hook_secret(client: Any, admin_user: Any) -> None:
    client.force_login(admin_user)
    form = source_form(name="payments", path="/deploy/", hook_secret="s3cret-hook-value")

    response = client.post(reverse("source-new"), form, follow=True)

    assert response.redirect_chain == [(reverse("sources"), 302)]
    assert "Git source payments is added." in response.content.decode()
    source = GitSource.objects.get(name="payments")
    assert (source.url, source.ref, source.path) == ("/srv/git/shop.git", "main", "deploy")
    assert unseal(source.hook_secret) == "s3cret-hook-value"
    event = AuditEvent.objects.get(action="gitsource.created")
    assert (event.actor, event.data["via"]) == ("ada", "dashboard")


def test_a_refused_source_keeps_what_was_typed_and_stores_nothing(
    client: Any, admin_user: Any
) -> None:
    client.force_login(admin_user)
    form = source_form(
        name="payments", url="ext::sh -c id", ref="-x", path="k8s/prod", hook_secret="typed-secret"
    )

    response = client.post(reverse("source-new"), form)

    text = response.content.decode()
    assert response.status_code == 400
    assert not GitSource.objects.exists() and not AuditEvent.objects.exists()
    url_errors = response.context["form"].errors["url"]
    assert "names a git remote helper" in url_errors[0]
    assert "is not a valid ref" in response.context["form"].errors["ref"][0]
    # Each error is next to its field, which names it for screen readers.
    assert 'aria-describedby="id_url_helptext id_url_error"' in text
    assert 'aria-invalid="true"' in text
    assert '<p class="error" id="id_url_error">' in text
    assert 'value="payments"' in text and 'value="ext::sh -c id"' in text
    assert 'value="k8s/prod"' in text
    assert "typed-secret" not in text
    assert "The secret you typed is not shown again" in text


def test_a_new_source_does_not_replace_one_of_the_same_name(
    client: Any, admin_user: Any, shop_source: Any
) -> None:
    client.force_login(admin_user)

    response = client.post(reverse("source-new"), source_form(url="/srv/git/other.git"))

    assert response.status_code == 400
    assert response.context["form"].errors["name"] == [
        "a GitSource named shop exists already: edit it instead"
    ]
    shop_source.refresh_from_db()
    assert shop_source.url == "/srv/git/shop.git"
    assert not AuditEvent.objects.exists()


def test_a_bad_name_is_shown_next_to_the_name(client: Any, admin_user: Any) -> None:
    client.force_login(admin_user)

    response = client.post(reverse("source-new"), source_form(name="Not_A_Name"))

    assert response.status_code == 400
    assert response.context["form"].errors["name"] == [
        "must be a lowercase DNS label (a-z, 0-9, '-')"
    ]


# --- editing ---------------------------------------------------------------------------------


def test_an_edit_keeps_the_hook_secret_when_it_is_left_empty(
    client: Any, admin_user: Any, shop_source: Any
) -> None:
    client.force_login(admin_user)
    page = client.get(reverse("source-edit", args=["shop"])).content.decode()

    response = client.post(
        reverse("source-edit", args=["shop"]),
        source_form(name="renamed", ref="release", hook_secret=""),
    )

    assert response.status_code == 302
    assert "old-hook-secret" not in page and "Set: leave empty to keep it." in page
    source = GitSource.objects.get()
    assert (source.name, source.ref) == ("shop", "release")  # the name is fixed
    assert unseal(source.hook_secret) == "old-hook-secret"
    assert AuditEvent.objects.get().data["changed"] == ["ref"]


def test_an_edit_replaces_or_removes_the_hook_secret(
    client: Any, admin_user: Any, shop_source: Any
) -> None:
    client.force_login(admin_user)
    url = reverse("source-edit", args=["shop"])

    client.post(url, source_form(hook_secret="new-hook-secret"))
    replaced = unseal(GitSource.objects.get().hook_secret)
    client.post(url, source_form(remove_hook_secret="on"))

    assert replaced == "new-hook-secret"
    assert GitSource.objects.get().hook_secret == ""


def test_an_edit_refuses_both_a_new_secret_and_its_removal(
    client: Any, admin_user: Any, shop_source: Any
) -> None:
    client.force_login(admin_user)

    response = client.post(
        reverse("source-edit", args=["shop"]),
        source_form(hook_secret="new-hook-secret", remove_hook_secret="on"),
    )

    assert response.status_code == 400
    assert unseal(GitSource.objects.get().hook_secret) == "old-hook-secret"


def test_editing_a_source_that_is_gone_is_a_404(client: Any, admin_user: Any) -> None:
    client.force_login(admin_user)

    assert client.get(reverse("source-edit", args=["gone"])).status_code == 404


# --- the test fetch --------------------------------------------------------------------------


def test_a_test_fetch_shows_refs_commit_and_manifests_in_the_panel(
    client: Any, admin_user: Any, deploy_repo: Path
) -> None:
    client.force_login(admin_user)

    response = client.post(
        reverse("source-test-fetch"),
        source_form(url=str(deploy_repo), ref="main", path="k8s"),
        **HTMX,
    )

    text = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in text  # a fragment for the result panel
    assert git(deploy_repo, "rev-parse", "main") in text
    assert "<li>staging</li>" in text and "<li>main</li>" in text
    assert "<strong>1</strong> manifest file" in text
    assert "Nothing was saved." in text
    assert not GitSource.objects.exists()


def test_a_test_fetch_of_an_unknown_ref_names_the_refs_there_are(
    client: Any, admin_user: Any, deploy_repo: Path
) -> None:
    client.force_login(admin_user)

    response = client.post(
        reverse("source-test-fetch"), source_form(url=str(deploy_repo), ref="prod"), **HTMX
    )

    text = response.content.decode()
    assert "&#x27;prod&#x27; is neither a branch, a tag nor a commit" in text
    assert "<li>staging</li>" in text


def test_without_htmx_a_test_fetch_answers_with_the_whole_form_as_typed(
    client: Any, admin_user: Any, deploy_repo: Path, shop_source: Any
) -> None:
    client.force_login(admin_user)
    typed = source_form(url=str(deploy_repo), path="missing", editing="shop")

    response = client.post(reverse("source-test-fetch"), typed)

    text = response.content.decode()
    assert response.status_code == 200
    assert "<html" in text and 'action="/sources/shop/edit"' in text
    assert f'value="{deploy_repo}"' in text and 'value="missing"' in text
    assert "Path <code>missing</code> does not exist at this commit" in text
    assert response["Vary"].count("HX-Request") == 1
    assert GitSource.objects.get().url == "/srv/git/shop.git"


def test_a_test_fetch_without_a_url_says_so(client: Any, admin_user: Any) -> None:
    client.force_login(admin_user)

    response = client.post(reverse("source-test-fetch"), source_form(url=""), **HTMX)

    assert "Repository URL: This field is required." in response.content.decode()
