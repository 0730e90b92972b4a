"""The distribution API as supply checks read it: tags, manifests, blobs, referrers.

What is fetched by digest is checked against that digest, so neither the registry nor
anything between can hand over other bytes than those a pod runs or a signature names.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from alignment.registry.errors import NotFound, RegistryError
from alignment.registry.transport import Access, Transport
from alignment.supply.verify import Artifacts, SignatureLayer

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
# All four, so that a multi-arch image answers with its index: the index digest is what a
# pod names and what signatures attach to, not one platform's manifest.
ACCEPT = ", ".join((OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST))
BUNDLE_TYPE = re.compile(r"^application/vnd\.dev\.sigstore\.bundle(\.v[0-9.]+)?\+json$")

MANIFEST_LIMIT = 4 << 20  # what the distribution spec asks registries to accept at least
BLOB_LIMIT = 4 << 20  # signatures, attestations and bundles are kilobytes
MAX_ARTIFACTS = 64  # signatures or referrers on one image; more is abuse, not history
_DIGEST = re.compile(r"^(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})$")
# The distribution spec's grammar: nothing else goes into a URL path.
_REPOSITORY = re.compile(
    r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$"
)
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")


def digest_of(data: bytes, algorithm: str = "sha256") -> str:
    """The OCI digest of ``data`` ("sha256:<hex>")."""
    return f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"


def is_digest(reference: str) -> bool:
    return bool(_DIGEST.match(reference))


def _check_digest(data: bytes, expected: str, where: str) -> None:
    found = digest_of(data, expected.split(":", 1)[0])
    if found != expected:
        raise RegistryError(f"{where}: the content's digest is {found}, not the one asked for")


def _json_object(raw: bytes, where: str, what: str) -> dict[str, Any]:
    try:
        document = json.loads(raw)
    except ValueError:  # UnicodeDecodeError too
        document = None
    if not isinstance(document, dict):
        raise RegistryError(f"{where}: the {what} is not a JSON object")
    return document


def _dicts(items: Any) -> list[dict[str, Any]]:
    return (
        [item for item in items or () if isinstance(item, dict)] if isinstance(items, list) else []
    )


def _strings(mapping: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in mapping.items()} if isinstance(mapping, dict) else {}


class Registry:
    """Read access to one registry host; safe to share between threads."""

    def __init__(self, access: Access, *, retries: int = 3) -> None:
        self.access = access
        self._transport = Transport(access, retries)

    def close(self) -> None:
        self._transport.close()

    def _where(self, repository: str, reference: str) -> str:
        """How errors name what was asked for; raises for names the API cannot hold."""
        where = f"{self.access.host}/{repository} {reference}"
        if not _REPOSITORY.match(repository):
            raise RegistryError(f"{where}: not a repository name")
        if not (_TAG.match(reference) or is_digest(reference)):
            raise RegistryError(f"{where}: neither a tag nor a sha256 or sha512 digest")
        return where

    def resolve(self, repository: str, tag: str) -> str:
        """The digest a tag points at now ("sha256:..."): from HEAD, or where a registry's
        HEAD names none, the digest of the manifest a GET returns."""
        where = self._where(repository, tag)
        head = self._transport.request("HEAD", repository, f"manifests/{tag}", where, accept=ACCEPT)
        digest = head.headers.get("docker-content-digest", "")
        if is_digest(digest):
            return digest
        _, _, raw = self.manifest(repository, tag)
        return digest_of(raw)

    def manifest(self, repository: str, reference: str) -> tuple[dict[str, Any], str, bytes]:
        """(the manifest as JSON, its media type, its bytes), checked against ``reference``
        when that is a digest."""
        where = self._where(repository, reference)
        answer = self._transport.request(
            "GET", repository, f"manifests/{reference}", where, accept=ACCEPT, limit=MANIFEST_LIMIT
        )
        if is_digest(reference):
            _check_digest(answer.body, reference, where)
        document = _json_object(answer.body, where, "manifest")
        content_type = answer.headers.get("content-type", "").split(";")[0].strip()
        return document, str(document.get("mediaType") or content_type), answer.body

    def blob(self, repository: str, digest: str, limit: int = BLOB_LIMIT) -> bytes:
        """A blob's bytes, at most ``limit`` of them, checked against ``digest``."""
        where = self._where(repository, digest)
        if not is_digest(digest):
            raise RegistryError(f"{where}: not a digest")
        answer = self._transport.request("GET", repository, f"blobs/{digest}", where, limit=limit)
        _check_digest(answer.body, digest, where)
        return answer.body

    def referrers(
        self, repository: str, digest: str, artifact_type: str = ""
    ) -> list[dict[str, Any]]:
        """Descriptors of the manifests whose ``subject`` is ``digest``: from the OCI 1.1
        referrers API, or where a registry has none (it answers 404; one that has it answers
        an empty index for a digest without referrers), from the referrers tag schema's
        index under the tag ``sha256-<hex>``."""
        where = self._where(repository, digest)
        if not is_digest(digest):
            raise RegistryError(f"{where}: not a digest")
        query = {"artifactType": artifact_type} if artifact_type else None
        try:
            answer = self._transport.request(
                "GET",
                repository,
                f"referrers/{digest}",
                where,
                accept=OCI_INDEX,
                params=query,
                limit=MANIFEST_LIMIT,
            )
            index = _json_object(answer.body, where, "referrers index")
        except NotFound:
            try:
                index, _, _ = self.manifest(repository, digest.replace(":", "-", 1))
            except NotFound:
                return []
        descriptors = _dicts(index.get("manifests"))
        # The API may ignore the filter (OCI-Filters-Applied says whether it did) and the
        # tag schema has none: filtered here either way.
        if artifact_type:
            descriptors = [d for d in descriptors if d.get("artifactType") == artifact_type]
        return descriptors

    def artifacts(self, repository: str, digest: str) -> Artifacts:
        """What the verifier needs about one image digest: the layers of cosign's ``.sig``
        and ``.att`` tags (blobs and annotations) and the Sigstore bundles referring to it.
        What is absent is empty; a registry that cannot be read raises."""
        tag = digest.replace(":", "-", 1)
        return Artifacts(
            digest=digest,
            cosign_signatures=self._cosign_layers(repository, f"{tag}.sig"),
            cosign_attestations=self._cosign_layers(repository, f"{tag}.att"),
            bundles=self._bundles(repository, digest),
        )

    def _cosign_layers(self, repository: str, tag: str) -> tuple[SignatureLayer, ...]:
        try:
            document, _, _ = self.manifest(repository, tag)
        except NotFound:
            return ()
        return tuple(
            SignatureLayer(
                payload=self.blob(repository, str(layer.get("digest", ""))),
                media_type=str(layer.get("mediaType", "")),
                annotations=_strings(layer.get("annotations")),
            )
            for layer in _dicts(document.get("layers"))[:MAX_ARTIFACTS]
        )

    def _bundles(self, repository: str, digest: str) -> tuple[bytes, ...]:
        bundles: list[bytes] = []
        for descriptor in self.referrers(repository, digest)[:MAX_ARTIFACTS]:
            declared = str(descriptor.get("artifactType") or "")
            if declared and not BUNDLE_TYPE.match(declared):
                continue  # an SBOM, a Notary signature: not ours to judge
            document, _, _ = self.manifest(repository, str(descriptor.get("digest", "")))
            # A descriptor without artifactType (from an older pusher): the manifest says.
            config = _strings(document.get("config"))
            kind = declared or str(document.get("artifactType") or config.get("mediaType", ""))
            if not BUNDLE_TYPE.match(kind):
                continue
            bundles.extend(
                self.blob(repository, str(layer.get("digest", "")))
                for layer in _dicts(document.get("layers"))[:MAX_ARTIFACTS]
                if BUNDLE_TYPE.match(str(layer.get("mediaType", "")))
            )
        return tuple(bundles)
