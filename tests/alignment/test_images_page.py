"""The Images page and /api/v1/images/: each image the fleet runs listed once, worst
state first, with where it runs, its signers and what it was built from; narrowed by
lane, cluster, state and name; the same number of queries however many images run."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from alignment import fleet_images as images
from alignment.image_uses import STATES
from alignment.models import ImageUse
from drift.models import DriftPolicy, Lane
from tests.api.conftest import token_for
from tests.factories import ClusterFactory, DriftPolicyFactory

pytestmark = pytest.mark.django_db

IMAGES_URL = "/api/v1/images/"
WEB = "registry.example:5000/shop/web:1.2"
WEB_DIGEST = "sha256:" + "a1" * 32
API = "registry.example:5000/shop/api:2.0"
WORKER = "registry.example:5000/shop/worker@sha256:" + "c3" * 32
HEAD = "9f2c1e7d4b3a29180f6e5d4c3b2a19087f6e5d4c"
BUILDER = (
    "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/"
    "generator_container_slsa3.yml@refs/tags/v2.0.0"
)
VERIFIED = {
    "signers": ["release"],
    "signatures": [{"signer": "release", "state": "trusted"}],
    "builder": BUILDER,
    "level": 3,
    "source": "https://github.com/acme/shop",
    "revision": HEAD,
    "built_from_head": True,
}


def running(cluster: Any, namespace: str, name: str, image: str, state: str, **more: Any) -> Any:
    """A container as the last scan of policy shop saw it."""
    policy = DriftPolicy.objects.filter(name="shop").first() or DriftPolicyFactory(name="shop")
    fields = {"kind": "Deployment", "container": name, "digest": "", "lane": "", "detail": {}}
    fields |= more
    return ImageUse.objects.create(
        policy=policy,
        cluster=cluster,
        namespace=namespace,
        name=name,
        image=image,
        state=state,
        seen_at=timezone.now(),
        **fields,
    )


def images_fleet() -> dict[str, Any]:
    """East runs the controlled lane (shop) and west the fast one (dev-*): shop/web is
    signed and built from Git's head, and runs on both; shop/api is unsigned; the worker's
    signature was tampered with; nginx is not pinned by digest."""
    controlled = Lane.objects.create(name="controlled", namespaces=["shop"])
    fast = Lane.objects.create(name="fast", namespaces=["dev-*"])
    east, west = ClusterFactory(name="east"), ClusterFactory(name="west")
    east.lanes.add(controlled)
    west.lanes.add(fast)
    strict = {"lane": "controlled"}
    running(east, "shop", "web", WEB, "verified", digest=WEB_DIGEST, detail=VERIFIED, **strict)
    running(west, "dev-shop", "web", WEB, "no-requirement", digest=WEB_DIGEST, lane="fast")
    running(east, "shop", "api", API, "unsigned", digest="sha256:" + "b2" * 32, **strict)
    running(
        east,
        "shop",
        "worker",
        WORKER,
        "invalid-signature",
        digest=WORKER.partition("@")[2],
        detail={"signers": [], "signatures": [{"signer": "release", "state": "invalid"}]},
        **strict,
    )
    running(east, "shop", "web", "nginx:1.27", "digest", container="proxy", **strict)
    return {"east": east, "west": west}


@pytest.fixture
def fleet(db: None) -> dict[str, Any]:
    return images_fleet()


def listed(client: Any, **query: str) -> list[Any]:
    response = client.get(reverse("images"), query)
    assert response.status_code == 200
    return [row["image"] for row in response.context["page"].rows]


def test_each_image_is_listed_once_worst_first(client: Any, viewer: Any, fleet: Any) -> None:
    client.force_login(viewer)

    shown = listed(client)

    assert [(i.image, i.state) for i in shown] == [
        (WORKER, "invalid-signature"),
        (API, "unsigned"),
        ("nginx:1.27", "digest"),
        (WEB, "verified"),
    ]
    web = shown[-1]
    assert (web.workload_count, web.cluster_count, web.use_count) == (2, 2, 2)
    assert (web.clusters, web.lanes) == (["east", "west"], ["controlled", "fast"])
    assert [use.state for use in web.uses] == ["verified", "no-requirement"]
    assert web.detail["signers"] == ["release"]
    # nginx runs in shop/web next to the web container: one workload, two images.
    assert shown[2].workload_count == 1


def test_the_page_says_state_signer_source_commit_and_where_it_runs(
    client: Any, viewer: Any, fleet: Any
) -> None:
    client.force_login(viewer)

    page = client.get(reverse("images")).content.decode()

    assert '<span class="badge down">Invalid signature</span>' in page
    assert '<span class="badge ok">Verified</span>' in page
    assert f'<abbr title="{WEB_DIGEST}">sha256:{"a1" * 6}…</abbr>' in page
    assert "https://github.com/acme/shop" in page
    assert BUILDER.replace("/", "/<wbr>") in page  # a long URL wraps at its slashes
    assert f'<abbr title="{HEAD}">{HEAD[:12]}</abbr>' in page
    assert "built from the commit Git deploys" in page
    assert "(SLSA level 3)" in page
    assert "2 workloads on 2 clusters" in page
    assert "lanes: controlled, fast" in page
    assert f'<abbr title="{WORKER}">registry.example:5000/shop/worker@sha256:{"c3" * 6}…' in page
    assert '<a href="/clusters/west/">west</a> dev-shop/Deployment/web' in page
    assert "(its lane requires nothing)" in page  # west's use, milder than the image's
    assert 'href="/images/" aria-current="page">Images</a>' in page


@pytest.mark.parametrize(
    "query, expected",
    [
        ({"state": "unsigned"}, [(API, "unsigned")]),
        ({"lane": "fast"}, [(WEB, "no-requirement")]),
        ({"cluster": "west"}, [(WEB, "no-requirement")]),
        ({"cluster": "east", "state": "verified"}, [(WEB, "verified")]),
        ({"q": "SHOP/W"}, [(WORKER, "invalid-signature"), (WEB, "verified")]),
        ({"lane": "fast", "state": "unsigned"}, []),
    ],
)
def test_filters_narrow_the_containers_and_the_state_follows(
    client: Any, viewer: Any, fleet: Any, query: dict, expected: list
) -> None:
    client.force_login(viewer)

    assert [(i.image, i.state) for i in listed(client, **query)] == expected


@pytest.mark.parametrize("query", [{"state": "signed-ish"}, {"q": "web\x00"}])
def test_a_bad_filter_on_the_page_is_ignored_and_said(
    client: Any, viewer: Any, fleet: Any, query: dict
) -> None:
    client.force_login(viewer)

    response = client.get(reverse("images"), query)

    assert len(response.context["page"].rows) == 4
    assert f"Some filters were ignored: {next(iter(query))}:" in response.content.decode()


def test_an_empty_fleet_says_what_fills_the_list(client: Any, viewer: Any) -> None:
    client.force_login(viewer)

    page = client.get(reverse("images")).content.decode()

    assert "No image is listed yet" in page
    assert "requireDigest" in page and "signers" in page and "provenance" in page


def test_an_image_in_many_containers_shows_the_worst_and_counts_the_rest(
    client: Any, viewer: Any, fleet: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(images, "USES_SHOWN", 2)
    for n in range(3):
        running(fleet["west"], f"dev-{n}", "web", WEB, "no-requirement", digest=WEB_DIGEST)
    client.force_login(viewer)

    web = next(i for i in listed(client) if i.image == WEB)

    assert [u.namespace for u in web.uses] == ["shop", "dev-0"]  # verified first
    assert (web.use_count, web.more_uses) == (5, 3)


def test_pages_of_images(client: Any, viewer: Any, fleet: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr("dashboard.views.images.PER_PAGE", 3)
    client.force_login(viewer)

    first = client.get(reverse("images")).context["page"]
    second = client.get(reverse("images"), {"page": "2"}).context["page"]
    beyond = client.get(reverse("images"), {"page": "99"}).context["page"]

    assert (first.counted, first.has_next, len(first.rows)) == (4, True, 3)
    assert [r["image"].image for r in second.rows] == [WEB]
    assert beyond.number == 2


def test_anonymous_people_sign_in_first_and_people_without_a_role_are_refused(
    client: Any, outsider: Any
) -> None:
    response = client.get(reverse("images"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login") + "?next=")

    client.force_login(outsider)
    assert client.get(reverse("images")).status_code == 403


def test_the_page_takes_the_same_queries_however_many_images_run(
    client: Any, viewer: Any, fleet: Any, django_assert_max_num_queries: Any
) -> None:
    client.force_login(viewer)
    listed(client)  # the session is saved once
    # Signed in with a role (4), the images counted, grouped, their uses and places (4),
    # the clusters and lanes to filter by (2).
    with django_assert_max_num_queries(10) as few:
        listed(client)
    for n in range(30):
        cluster = fleet["east" if n % 2 else "west"]
        running(cluster, "shop", f"app-{n}", f"registry.example:5000/app-{n}:1", "unsigned")
        running(cluster, "shop", f"app-{n}", "nginx:1.27", "digest", container=f"proxy-{n}")

    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(listed(client)) == 25


# The API


@pytest.fixture
def api(viewer: Any) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(viewer, 'read')}")
    return client


def test_the_api_lists_each_image_with_its_uses_and_verdict(api: Any, fleet: Any) -> None:
    response = api.get(IMAGES_URL)

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 4 and body["next"] is None
    assert [(i["image"], i["state"]) for i in body["results"]][:2] == [
        (WORKER, "invalid-signature"),
        (API, "unsigned"),
    ]
    web = body["results"][-1]
    assert {k: v for k, v in web.items() if k not in ("uses", "seen_at")} == {
        "image": WEB,
        "digest": WEB_DIGEST,
        "state": "verified",
        "lanes": ["controlled", "fast"],
        "clusters": ["east", "west"],
        "workloads": 2,
        "containers": 2,
        "detail": VERIFIED,
    }
    assert [(u["cluster"], u["namespace"], u["state"]) for u in web["uses"]] == [
        ("east", "shop", "verified"),
        ("west", "dev-shop", "no-requirement"),
    ]
    assert web["uses"][0] | {"seen_at": None} == {
        "cluster": "east",
        "policy": "shop",
        "namespace": "shop",
        "kind": "Deployment",
        "name": "web",
        "container": "web",
        "lane": "controlled",
        "state": "verified",
        "seen_at": None,
    }
    assert body["results"][2]["detail"] == {}  # nginx: nothing asked of its registry


def test_a_level_the_provenance_does_not_claim_is_null(api: Any, fleet: Any) -> None:
    ImageUse.objects.filter(image=WEB).update(detail=VERIFIED | {"level": None})

    web = api.get(IMAGES_URL, {"q": "shop/web"}).json()["results"][0]

    assert web["detail"]["level"] is None and web["detail"]["builder"] == BUILDER


@pytest.mark.parametrize(
    "query, expected",
    [
        ({"state": "invalid-signature"}, [WORKER]),
        ({"lane": "fast"}, [WEB]),
        ({"cluster": "west"}, [WEB]),
        ({"q": "nginx"}, ["nginx:1.27"]),
        ({"cluster": "west", "state": "verified"}, []),
    ],
)
def test_the_api_filters_as_the_page_does(
    api: Any, fleet: Any, query: dict, expected: list
) -> None:
    body = api.get(IMAGES_URL, query).json()

    assert [i["image"] for i in body["results"]] == expected


def test_a_bad_state_is_a_400_naming_the_parameter_and_the_states(api: Any, fleet: Any) -> None:
    response = api.get(IMAGES_URL, {"state": "signed"})

    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["field"] == "state"
    assert error["detail"] == "one of: " + ", ".join(STATES)


def test_an_unknown_cluster_or_lane_or_parameter_is_a_400(api: Any, fleet: Any) -> None:
    cluster = api.get(IMAGES_URL, {"cluster": "north"})
    lane = api.get(IMAGES_URL, {"lane": "slow"})
    other = api.get(IMAGES_URL, {"image": "nginx"})

    assert cluster.json()["errors"][0] == {"field": "cluster", "detail": "no cluster named 'north'"}
    assert lane.status_code == 400 and lane.json()["errors"][0]["field"] == "lane"
    assert other.status_code == 400 and other.json()["errors"][0]["field"] == "image"


def test_reading_images_needs_a_sign_in_and_a_role(outsider: Any) -> None:
    assert APIClient().get(IMAGES_URL).status_code == 401
    signed_in = APIClient()
    signed_in.force_login(outsider)
    assert signed_in.get(IMAGES_URL).status_code == 403


def test_the_api_takes_the_same_queries_however_many_images_run(api: Any, fleet: Any) -> None:
    def queries() -> int:
        with CaptureQueriesContext(connection) as done:
            assert api.get(IMAGES_URL).status_code == 200
        return len(done)

    queries()  # the token's first use is written down once
    before = queries()
    for n in range(20):
        running(fleet["east"], "shop", f"app-{n}", f"registry.example:5000/app-{n}:1", "unsigned")

    assert queries() == before


def test_the_api_pages_images(api: Any, fleet: Any) -> None:
    first = api.get(IMAGES_URL, {"page_size": "3"}).json()
    second = api.get(first["next"]).json()

    assert first["count"] == 4 and len(first["results"]) == 3
    assert [i["image"] for i in second["results"]] == [WEB]


def test_the_schema_documents_the_list_and_its_filters(api: Any) -> None:
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/json").json()

    listed = schema["paths"]["/api/v1/images/"]["get"]
    parameters = {p["name"]: p for p in listed["parameters"]}
    assert set(parameters) >= {"lane", "cluster", "state", "q", "page", "page_size"}
    assert parameters["state"]["schema"]["enum"] == list(STATES)
    assert listed["tags"] == ["alignment"]


def test_every_state_has_words() -> None:
    assert set(images.STATE_WORDS) == set(STATES)
