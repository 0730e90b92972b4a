"""What bench/admission.py decides on: a World of a realistic size, and the reviews
kube-apiserver sends for `kubectl set image` on it (tests/alignment/admission/
set_image_review.json made to name other objects, images and users)."""

from __future__ import annotations

import copy
import json
import random
import uuid
from pathlib import Path
from types import MappingProxyType
from typing import Any

from alignment import rules
from alignment.admission.decide import Managed, World, decide
from alignment.admission.review import parse
from alignment.rules.images import ImageCheck
from alignment.supply.verdict import Evidence, Signature
from drift.engine.normalize import ObjectKey

CLUSTER = "prod"
REVIEW = Path(__file__).resolve().parent.parent / "tests/alignment/admission/set_image_review.json"
ARGO = "system:serviceaccount:argocd:argocd-application-controller"
FLUX = "system:serviceaccount:flux-system:kustomize-controller"
TRUSTED = (
    "system:kube-controller-manager",
    "system:kube-scheduler",
    "system:serviceaccount:kube-system:*",
    "system:node:*",
    "system:apiserver",
    "system:serviceaccount:driftcontrol:*",
    "system:serviceaccount:cert-manager:cert-manager",
    "system:serviceaccount:kyverno:*",
)
APPS = 37  # per namespace, each a Deployment, a Service and a ConfigMap Git manages
REVISION = "9fceb02d0ae598e95dc970b74767f19372d61af8"
SIGNED = Evidence("", (Signature("cosign", "release", "trusted"),))

LANES = (
    rules.LaneSpec(
        "payments",
        namespaces=("payments", "payments-*"),
        identities=(ARGO,),
        registries=("registry.example.com/payments/",),
        secrets=("payments-*",),
        supply={"signers": [{"name": "release", "key": "PEM"}]},
        admission={"mode": "deny", "breakGlassGroups": ["sre-oncall"]},
    ),
    rules.LaneSpec(
        "storefront",
        namespaces=("shop", "shop-*"),
        identities=(FLUX,),
        registries=("registry.example.com/shop/",),
        secrets=("shop-*",),
        admission={"mode": "warn"},
    ),
    rules.LaneSpec(
        "platform",
        namespaces=("platform-*",),
        identities=(ARGO,),
        registries=("registry.example.com/platform/", "quay.io/prometheus/"),
        admission={"mode": "deny"},
    ),
)
NAMESPACES = {
    "payments": ["payments", *(f"payments-{i}" for i in range(1, 6))],
    "storefront": ["shop", *(f"shop-{i}" for i in range(1, 6))],
    "platform": [f"platform-{i}" for i in range(1, 7)],
}
REGISTRY = {
    "payments": "registry.example.com/payments",
    "storefront": "registry.example.com/shop",
    "platform": "registry.example.com/platform",
}


def build_world() -> World:
    managed: dict[ObjectKey, Managed] = {}
    images: dict[tuple[str, str], ImageCheck] = {}
    for lane, namespaces in NAMESPACES.items():
        for namespace in namespaces:
            for app in range(APPS):
                name = f"app-{app}"
                path = f"{lane}/{namespace}/{name}.yaml"
                for group, kind in (("apps", "Deployment"), ("", "Service"), ("", "ConfigMap")):
                    key = ObjectKey(group, kind, namespace, name)
                    managed[key] = Managed(f"https://git.example.com/{lane}.git", REVISION, path)
        if lane == "payments":
            for app in range(APPS):
                for version in range(8):
                    image = _image(lane, app, version)
                    digest = "sha256:" + f"{app:02x}{version:02x}" * 16
                    evidence = Evidence(digest, SIGNED.signatures)
                    images[lane, image] = ImageCheck(image, digest, evidence=evidence)
                # Verified, and signed by no one the lane trusts.
                image, digest = _unsigned(lane, app), "sha256:" + f"{app:02x}ff" * 16
                images[lane, image] = ImageCheck(image, digest, evidence=Evidence(digest))
    return World(
        lanes=LANES,
        every_lane=LANES,
        managed=MappingProxyType(managed),
        trusted=TRUSTED,
        images=MappingProxyType(images),
    )


def _image(lane: str, app: int, version: int) -> str:
    return f"{REGISTRY[lane]}/app-{app}:1.{version}.0"


def _unsigned(lane: str, app: int) -> str:
    return f"{REGISTRY[lane]}/app-{app}:9.9.9-unsigned"


def reviews(count: int = 200, seed: int = 20260301) -> list[tuple[dict[str, Any], str]]:
    """``count`` reviews and the outcome each must get: 60% a lane's deployer (allowed),
    20% an outsider in the warn lane (warned), 20% one in a deny lane (denied; half of
    those also bring an image the cache knows to be unsigned)."""
    rng = random.Random(seed)
    template = json.loads(REVIEW.read_text())
    world = build_world()
    found = []
    for index in range(count):
        roll = index % 10
        if roll < 6:
            lane = ("payments", "storefront", "platform")[index % 3]
            deployer = FLUX if lane == "storefront" else ARGO
            user = {"username": deployer, "groups": ["system:serviceaccounts"]}
            outcome, unsigned = "allow", False
        else:
            lane = "storefront" if roll < 8 else "payments"
            user = {"username": "alice", "groups": ["developers", "system:authenticated"]}
            outcome = "warn" if lane == "storefront" else "deny"
            unsigned = index % 20 == 19
        body = _review(template, rng, lane, user, unsigned)
        decided = decide(parse(body), world).outcome
        if decided != outcome:
            raise SystemExit(f"review {index}: {decided}, expected {outcome}")
        found.append((body, outcome))
    return found


def _review(
    template: dict[str, Any], rng: random.Random, lane: str, user: dict[str, Any], unsigned: bool
) -> dict[str, Any]:
    body = copy.deepcopy(template)
    request = body["request"]
    namespace = rng.choice(NAMESPACES[lane])
    app = rng.randrange(APPS)
    name = f"app-{app}"
    version = rng.randrange(7)
    new = _unsigned(lane, app) if unsigned else _image(lane, app, version + 1)
    request.update(uid=str(uuid.UUID(int=rng.getrandbits(128))), namespace=namespace, name=name)
    request["userInfo"] = user
    secret = f"{namespace}-db" if lane != "platform" else "metrics-db"
    for key, image in (("object", new), ("oldObject", _image(lane, app, version))):
        obj = request[key]
        obj["metadata"].update(name=name, namespace=namespace)
        obj["metadata"]["labels"]["app"] = name
        template_spec = obj["spec"]["template"]["spec"]
        container = template_spec["containers"][0]
        container.update(name=name, image=image)
        container["env"][0]["valueFrom"]["secretKeyRef"]["name"] = secret
    return body
