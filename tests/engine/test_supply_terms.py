"""A lane's supply terms (drift.engine.supply_terms): every mistake named by its path."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from drift.engine.supply_terms import problems


def pem(key: Any) -> str:
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return str(public.decode())


P256 = pem(ec.generate_private_key(ec.SECP256R1()))
ED25519 = pem(ed25519.Ed25519PrivateKey.generate())
KEYLESS = {"issuer": "https://token.actions.githubusercontent.com", "subjectPattern": "^https://"}


def said(value: Any) -> list[tuple[str, str]]:
    return [(p.path, p.message) for p in problems(value, "spec")]


def test_what_a_user_writes_is_accepted() -> None:
    terms = {
        "requireDigest": True,
        "signers": [
            {"name": "release", "key": P256},
            {"name": "edge", "key": ED25519},
            {"name": "ci", "keyless": KEYLESS},
        ],
        "provenance": {
            "required": True,
            "builders": [{"id": "https://github.com/slsa-framework/x", "minLevel": 3}],
            "sourceRepositories": ["https://github.com/acme/shop"],
        },
    }

    assert said(terms) == []


@pytest.mark.parametrize(
    ("terms", "path", "words"),
    [
        ({"requireDigest": "yes"}, "spec.requireDigest", "true or false"),
        ({"signers": {"name": "x"}}, "spec.signers", "must be a list"),
        ({"signers": [{"key": P256}]}, "spec.signers[0].name", "required"),
        (
            {"signers": [{"name": "a", "key": P256}, {"name": "a", "key": ED25519}]},
            "spec.signers[1].name",
            "twice",
        ),
        ({"signers": [{"name": "a"}]}, "spec.signers[0]", "exactly one of key"),
        ({"signers": [{"name": "a", "key": "ssh-ed25519 AAAA"}]}, "spec.signers[0].key", "PEM"),
        (
            {
                "signers": [
                    {
                        "name": "a",
                        "key": "-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n",
                    }
                ]
            },
            "spec.signers[0].key",
            "not a readable PEM",
        ),
        (
            {"signers": [{"name": "a", "keyless": {"subject": "x"}}]},
            "spec.signers[0].keyless.issuer",
            "https://",
        ),
        (
            {"signers": [{"name": "a", "keyless": {**KEYLESS, "subjectPattern": "(["}}]},
            "spec.signers[0].keyless.subjectPattern",
            "not a regular expression",
        ),
        ({"provenance": {"required": 1}}, "spec.provenance.required", "true or false"),
        (
            {"provenance": {"builders": [{"id": "b", "minLevel": 9}]}},
            "spec.provenance.builders[0].minLevel",
            "0 to 4",
        ),
        (
            {"provenance": {"builders": [{"minLevel": 1}]}},
            "spec.provenance.builders[0]",
            "builder's id",
        ),
        (
            {"provenance": {"sourceRepositories": "https://x"}},
            "spec.provenance.sourceRepositories",
            "list",
        ),
        ({"provenance": {"requried": True}}, "spec.provenance.requried", "unknown key"),
    ],
)
def test_each_mistake_is_named_where_it_is(terms: dict[str, Any], path: str, words: str) -> None:
    found = said(terms)

    assert [p for p, _ in found] == [path], found
    assert words in found[0][1]


def test_an_rsa_key_is_refused_with_the_kinds_cosign_uses() -> None:
    key = pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))

    assert said({"signers": [{"name": "a", "key": key}]}) == [
        ("spec.signers[0].key", "must be an ECDSA P-256 or an Ed25519 key (cosign's kinds)")
    ]
