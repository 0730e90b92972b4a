"""factory_boy factories for the domain; users are made with a role (see `user_with_role`)."""

from __future__ import annotations

from typing import Any

import factory
from django.contrib.auth import get_user_model

from alignment.models import ManagedObject
from drift.models import Cluster, DriftPolicy, Finding, GitSource, Lane, Scan
from driftcontrol.permissions import Role, set_role


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password("correct horse battery staple")

    @factory.post_generation
    def role(self, create: bool, extracted: str | None, **kwargs: object) -> None:
        if create and extracted:
            set_role(self, Role(extracted))


class LaneFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Lane

    name = factory.Sequence(lambda n: f"lane-{n}")


class ClusterFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Cluster

    name = factory.Sequence(lambda n: f"cluster-{n}")
    api_server_url = "https://127.0.0.1:6443"


class GitSourceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = GitSource

    name = factory.Sequence(lambda n: f"source-{n}")
    url = "/srv/git/deploy.git"


class DriftPolicyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DriftPolicy

    name = factory.Sequence(lambda n: f"policy-{n}")
    source = factory.SubFactory(GitSourceFactory)


class ScanFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Scan

    policy = factory.SubFactory(DriftPolicyFactory)
    cluster = factory.SubFactory(ClusterFactory)


class FindingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Finding

    cluster = factory.SubFactory(ClusterFactory)
    api_group = "apps"
    api_version = "v1"
    kind = "Deployment"
    namespace = "shop"
    name = factory.Sequence(lambda n: f"web-{n}")
    type = "modified"
    severity = "high"

    @classmethod
    def _create(cls, model_class: type[Finding], *args: Any, **kwargs: Any) -> Finding:
        # Read back through the manager, as the product reads findings: with the last
        # sighting it computes (last_seen, last_scan_id).
        created = super()._create(model_class, *args, **kwargs)
        return Finding.objects.get(pk=created.pk)


class ManagedObjectFactory(factory.django.DjangoModelFactory):
    """Git manages Deployment shop/web on the cluster (as a scan indexes it)."""

    class Meta:
        model = ManagedObject

    api_group = "apps"
    kind = "Deployment"
    namespace = "shop"
    name = "web"
    source = "https://git.example/shop/deploy.git"
    revision = "9f2c1e0b7d4a3c5e6f708192a3b4c5d6e7f80912"
    path = "apps/web/deployment.yaml"


def lane_secret_diff(namespace: str, name: str, lane: str, secret: str, owner: str) -> dict:
    """What a scan stores for a `lane.secret` violation: a workload of ``lane`` reading
    ``owner``'s Secret (alignment.scanning builds the same shape from the rule's evidence)."""
    path = "/spec/template/spec/containers/0/env/0/valueFrom/secretKeyRef/name"
    why = f"which belongs to lane {owner}"
    return {
        "paths": [path],
        "message": f"Deployment.apps {namespace}/{name} in lane {lane} uses Secret {secret}, {why}",
        "evidence": [
            {
                "group": "apps",
                "kind": "Deployment",
                "namespace": namespace,
                "name": name,
                "path": path,
                "note": "uses it",
            },
            {
                "group": "",
                "kind": "Secret",
                "namespace": namespace,
                "name": secret,
                "path": "",
                "note": why,
            },
        ],
        "state": "live",
    }


class AlignmentFindingFactory(FindingFactory):
    """An open `lane.secret` violation: Deployment shop/<name> of lane controlled reads the
    fast lane's Secret dev-db."""

    type = "alignment"
    rule = "lane.secret"
    diff = factory.LazyAttribute(
        lambda f: lane_secret_diff(f.namespace, f.name, "controlled", "dev-db", "fast")
    )
