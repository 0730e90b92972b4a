"""Image references as a pod spec writes them, read the way the container runtime reads them.

    nginx                                  -> docker.io/library/nginx:latest
    registry.example:5000/shop/web:1.2     -> registry.example:5000, shop/web, tag 1.2
    ghcr.io/a/b@sha256:<64 hex>            -> pinned: the runtime ignores any tag beside a digest

The grammar is the distribution project's (github.com/distribution/reference), including
Docker Hub's defaults: a first component without "." or ":" (and not "localhost") is a path,
not a registry, and a single-component Hub name lives under library/.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DOCKER_HUB = "docker.io"
_HUB_ALIASES = ("index.docker.io", "registry-1.docker.io")
_MAX_NAME = 255  # the distribution spec's limit on registry + repository

_HOST = re.compile(
    r"^(?:\[[0-9a-fA-F:.]+\]"  # an IPv6 literal
    r"|[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*)"
    r"(?::[0-9]{1,5})?$"
)
_PATH_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
# OCI image spec: the registered algorithms and their lowercase hex lengths.
_DIGEST_HEX = {"sha256": 64, "sha512": 128}


@dataclass(frozen=True, slots=True)
class ImageRef:
    """One image reference, normalised: Docker Hub names get their registry and library/."""

    host: str  # the registry: "docker.io", "ghcr.io", "127.0.0.1:5000"
    repository: str  # "library/nginx", "shop/web"
    tag: str  # "" when the reference is pinned by digest alone
    digest: str  # "sha256:<hex>", or "" when the reference names a tag only

    @property
    def pinned(self) -> bool:
        """Whether the reference names its content (a digest), not a movable tag."""
        return bool(self.digest)

    @property
    def name(self) -> str:
        return f"{self.host}/{self.repository}"

    def __str__(self) -> str:
        tag = f":{self.tag}" if self.tag else ""
        digest = f"@{self.digest}" if self.digest else ""
        return f"{self.name}{tag}{digest}"

    def with_digest(self, digest: str) -> ImageRef:
        """The same image pinned to `digest` (the fix a lane requiring digests suggests)."""
        check_digest(digest)
        return ImageRef(self.host, self.repository, self.tag, digest)


def parse(reference: str) -> ImageRef:
    """Read an image reference; ValueError says what is wrong with it."""
    if not isinstance(reference, str) or not reference:
        raise ValueError("an image reference must be a non-empty string")
    if reference != reference.strip() or any(c.isspace() for c in reference):
        raise ValueError(f"image reference {reference!r} contains whitespace")
    rest, _, digest = reference.partition("@")
    if "@" in digest:
        raise ValueError(f"image reference {reference!r} has more than one '@'")
    if digest:
        check_digest(digest)
    elif reference.endswith("@"):
        raise ValueError(f"image reference {reference!r} has '@' but no digest after it")
    name, tag = _split_tag(rest, reference)
    host, repository = _split_registry(name, reference)
    if len(f"{host}/{repository}") > _MAX_NAME:
        raise ValueError(f"image name in {reference!r} is longer than {_MAX_NAME} characters")
    if not tag and not digest:
        tag = "latest"  # what the runtime pulls when a reference names neither
    return ImageRef(host, repository, tag, digest)


def check_digest(digest: str) -> str:
    """`digest` itself if it is a well-formed OCI content digest, else ValueError."""
    algorithm, colon, encoded = digest.partition(":")
    if not colon:
        raise ValueError(f"digest {digest!r} must be <algorithm>:<hex>, e.g. sha256:<64 hex>")
    length = _DIGEST_HEX.get(algorithm)
    if length is None:
        raise ValueError(f"digest {digest!r}: unsupported algorithm {algorithm!r} (sha256, sha512)")
    if len(encoded) != length or not re.fullmatch(r"[0-9a-f]+", encoded):
        raise ValueError(f"digest {digest!r}: {algorithm} needs {length} lowercase hex digits")
    return digest


def is_digest(value: str) -> bool:
    try:
        check_digest(value)
    except ValueError:
        return False
    return True


def _split_tag(rest: str, reference: str) -> tuple[str, str]:
    # A ":" after the last "/" starts the tag; one before it belongs to a registry port.
    slash = rest.rfind("/")
    colon = rest.rfind(":")
    if colon <= slash:
        return rest, ""
    name, tag = rest[:colon], rest[colon + 1 :]
    if not _TAG.match(tag):
        raise ValueError(
            f"tag {tag!r} in {reference!r} is not valid: up to 128 letters, digits, '_', '.'"
            " and '-', not starting with '.' or '-'"
        )
    return name, tag


def _split_registry(name: str, reference: str) -> tuple[str, str]:
    first, slash, remainder = name.partition("/")
    names_registry = slash and (
        "." in first or ":" in first or first == "localhost" or first != first.lower()
    )
    if names_registry:
        registry, repository = first, remainder
        if not _HOST.match(registry):
            raise ValueError(f"registry {registry!r} in {reference!r} is not a host[:port]")
    else:
        registry, repository = DOCKER_HUB, name
    if registry in _HUB_ALIASES:
        registry = DOCKER_HUB
    if not repository:
        raise ValueError(f"image reference {reference!r} names no repository")
    for component in repository.split("/"):
        if not component:
            raise ValueError(f"repository in {reference!r} has an empty path component")
        if not _PATH_COMPONENT.match(component):
            raise ValueError(
                f"repository component {component!r} in {reference!r} is not valid: lowercase"
                " letters and digits, separated by '.', '_', '__' or '-'"
            )
    if registry == DOCKER_HUB and "/" not in repository:
        repository = f"library/{repository}"  # Docker Hub's official images
    return registry, repository
