"""Image references read the way the container runtime reads them (alignment.supply.refs)."""

from __future__ import annotations

import re

import pytest

from alignment.supply import refs

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("written", "host", "repository", "tag", "digest"),
    [
        ("nginx", "docker.io", "library/nginx", "latest", ""),
        ("nginx:1.27", "docker.io", "library/nginx", "1.27", ""),
        ("bitnami/redis:7.2", "docker.io", "bitnami/redis", "7.2", ""),
        ("docker.io/nginx", "docker.io", "library/nginx", "latest", ""),
        ("index.docker.io/library/nginx:1", "docker.io", "library/nginx", "1", ""),
        ("ghcr.io/acme/shop/web:v1.2.3", "ghcr.io", "acme/shop/web", "v1.2.3", ""),
        ("registry.example:5000/shop/web:1.2", "registry.example:5000", "shop/web", "1.2", ""),
        ("localhost/web", "localhost", "web", "latest", ""),
        ("localhost:5000/web", "localhost:5000", "web", "latest", ""),
        ("127.0.0.1:5443/shop/web", "127.0.0.1:5443", "shop/web", "latest", ""),
        ("[::1]:5000/web:dev", "[::1]:5000", "web", "dev", ""),
        (f"ghcr.io/a/b@{DIGEST}", "ghcr.io", "a/b", "", DIGEST),
        (f"nginx@{DIGEST}", "docker.io", "library/nginx", "", DIGEST),
        (f"registry.example:5000/web:1.2@{DIGEST}", "registry.example:5000", "web", "1.2", DIGEST),
        (
            "quay.io/some_org/my__app-x.y:1_0-rc.1",
            "quay.io",
            "some_org/my__app-x.y",
            "1_0-rc.1",
            "",
        ),
    ],
)
def test_it_reads_references_like_the_runtime(written, host, repository, tag, digest):
    image = refs.parse(written)
    assert (image.host, image.repository, image.tag, image.digest) == (
        host,
        repository,
        tag,
        digest,
    )
    assert image.pinned is bool(digest)


def test_it_writes_a_reference_back_in_full():
    assert str(refs.parse("nginx")) == "docker.io/library/nginx:latest"
    assert str(refs.parse(f"ghcr.io/a/b:1@{DIGEST}")) == f"ghcr.io/a/b:1@{DIGEST}"
    pinned = refs.parse("registry.example:5000/web:1.2").with_digest(DIGEST)
    assert str(pinned) == f"registry.example:5000/web:1.2@{DIGEST}"
    assert pinned.pinned


@pytest.mark.parametrize(
    ("written", "complaint"),
    [
        ("", "non-empty"),
        ("nginx ", "whitespace"),
        ("Shop/Web", "lowercase"),
        ("ghcr.io/Acme/web", "'Acme'"),
        ("web:", "tag ''"),
        ("web:-bad", "tag '-bad'"),
        ("web:" + "x" * 129, "up to 128"),
        ("web@", "no digest"),
        ("web@sha256:abc", "64 lowercase hex"),
        ("web@sha256:" + "AB" * 32, "64 lowercase hex"),
        ("web@md5:" + "ab" * 16, "unsupported algorithm 'md5'"),
        ("web@latest", "<algorithm>:<hex>"),
        (f"web@{DIGEST}@{DIGEST}", "more than one '@'"),
        ("ghcr.io//web", "empty path component"),
        ("ghcr.io/", "names no repository"),
        ("bad_host.example/web", "not a host[:port]"),
        ("ghcr.io/a/web-", "'web-'"),
        ("ghcr.io/" + "a" * 260, "longer than 255"),
    ],
)
def test_it_says_what_is_wrong_with_a_bad_reference(written, complaint):
    with pytest.raises(ValueError, match=re.escape(complaint)):
        refs.parse(written)


def test_a_digest_is_checked_on_its_own():
    assert refs.is_digest(DIGEST)
    assert refs.is_digest("sha512:" + "0" * 128)
    assert not refs.is_digest("sha256:" + "0" * 63)
    assert not refs.is_digest("latest")
