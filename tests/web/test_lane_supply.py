"""What a lane requires of its images, on the lane form (requireDigest; the signers and
provenance the form does not show are kept) and on the Lanes page."""

from __future__ import annotations

import pytest
from django.urls import reverse

from drift.models import Lane
from tests.engine.test_supply_terms import P256
from tests.factories import ClusterFactory, LaneFactory

pytestmark = pytest.mark.django_db
SUPPLY = {
    "signers": [{"name": "release", "key": P256}],
    "provenance": {"required": True, "builders": [{"id": "https://ci.example/b", "minLevel": 3}]},
}


def test_the_form_sets_require_digest_and_keeps_signers_and_provenance(client, admin_user):
    client.force_login(admin_user)
    LaneFactory(name="controlled", namespaces=["shop"], supply=SUPPLY)

    saved = client.post(
        reverse("lane-edit", args=["controlled"]), {"namespaces": "shop", "require_digest": "on"}
    )

    assert saved.status_code == 302
    assert Lane.objects.get(name="controlled").supply == {**SUPPLY, "requireDigest": True}
    page = client.get(reverse("lane-edit", args=["controlled"])).content.decode()
    assert (
        'signers <span class="mono">release</span>; provenance. They are kept as they are.' in page
    )


def test_the_lanes_page_says_what_its_images_must_prove(client, viewer):
    client.force_login(viewer)
    lane = LaneFactory(
        name="controlled", namespaces=["shop"], supply={**SUPPLY, "requireDigest": True}
    )
    ClusterFactory(name="east").lanes.add(lane)

    page = client.get(reverse("lanes")).content.decode()

    assert (
        'images pinned by digest, signed by <span class="mono">release</span>, with SLSA '
        'provenance from 1 allowed builder (<a href="/images/?lane=controlled">images</a>)'
    ) in page
