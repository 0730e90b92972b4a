"""Images the webhook let through unverified, verified by a worker (admission.verify_images,
alignment.admission.verification) in the real registry, so that the webhook's next world
refuses what the lane does not trust: through Redis and a real Celery worker."""

from __future__ import annotations

import copy
import time
import uuid

import pytest
from django.db import connection

from alignment.admission.decide import decide
from alignment.admission.recorder import Recorder
from alignment.admission.review import parse
from alignment.admission.verification import verify_images
from alignment.admission.world import build
from alignment.models import ImageVerification, RegistryCredential
from tests.alignment.admission.test_decide import ARGO, DEPLOYER, set_image
from tests.factories import ClusterFactory, LaneFactory
from tests.plugins.registry import OciRegistry
from tests.support import oci


def signing_lane(key) -> object:
    return LaneFactory(
        name="controlled",
        namespaces=["shop"],
        identities=[DEPLOYER],
        supply={"signers": [{"name": "release", "key": oci.public_pem(key)}]},
        admission={"mode": "deny"},
    )


@pytest.mark.celery
@pytest.mark.django_db(transaction=True)
def test_an_image_let_through_unverified_is_verified_by_a_worker_then_refused(
    celery_worker, oci_registry: OciRegistry
) -> None:
    host, ca = oci_registry.host, oci_registry.ca_pem
    RegistryCredential.objects.create(host=host, ca_pem=ca)
    content = f"nobody signed this {uuid.uuid4()}".encode()
    digest = oci.push_image(host, ca, "shop/web", "1", content=content)
    image = f"{host}/shop/web@{digest}"
    prod = ClusterFactory(name="prod")
    prod.lanes.add(signing_lane(oci.ecdsa_key()))
    body = copy.deepcopy(set_image(ARGO, image=image))
    request = parse(body)
    decision = decide(request, build(prod))
    assert (decision.outcome, decision.unverified) == ("allow", (image,))

    recorder = Recorder("127.0.0.1:9443", heartbeat_seconds=60)
    recorder.submit("prod", request, decision, 1.0)
    recorder.flush()
    assert recorder.verifications.send_pending() == 1

    deadline = time.monotonic() + 60
    while not ImageVerification.objects.filter(digest=digest).exists():
        assert time.monotonic() < deadline, "the worker stored no verdict within 60 s"
        time.sleep(0.2)
    refused = decide(request, build(prod))
    assert (refused.outcome, refused.rules) == ("deny", ("supply.unsigned",))
    connection.close()


@pytest.mark.django_db
def test_verifying_for_a_cluster_or_lane_gone_does_nothing() -> None:
    prod = ClusterFactory(name="prod")
    prod.lanes.add(LaneFactory(name="fast", namespaces=["dev-*"]))  # wants no evidence
    image = "registry.example.com/shop/web@sha256:" + "7e" * 32

    assert verify_images(prod.pk + 1000, "fast", [image]) == 0
    assert verify_images(prod.pk, "controlled", [image]) == 0
    assert verify_images(prod.pk, "fast", [image]) == 0
    assert not ImageVerification.objects.exists()
