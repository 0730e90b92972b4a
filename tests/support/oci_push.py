"""The writing half of the distribution API, for tests/support/oci.py: blobs, manifests,
deletes, and the referrers tag schema's index for registries without the referrers API.

Basic and token authentication (the distribution spec's Bearer flow, with push scope) are
answered as the registry's 401 asks; TLS is verified against the registry's CA.
"""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
from typing import Any

import requests

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
EMPTY_CONFIG = "application/vnd.oci.empty.v1+json"
ACCEPT = ", ".join(
    (
        OCI_MANIFEST,
        OCI_INDEX,
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    )
)
_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')
_ca_files: dict[str, str] = {}


def digest_of(data: bytes) -> str:
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


def descriptor(media_type: str, raw: bytes) -> dict[str, Any]:
    return {"mediaType": media_type, "digest": digest_of(raw), "size": len(raw)}


def compact(document: dict[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode()


def _ca_file(ca_pem: str) -> str:
    if ca_pem not in _ca_files:
        with tempfile.NamedTemporaryFile("w", suffix=".pem", delete=False) as out:
            out.write(ca_pem)
        _ca_files[ca_pem] = out.name
    return _ca_files[ca_pem]


class PushFailed(AssertionError):
    pass


class Client:
    """Requests to one registry, authenticated as it asks."""

    def __init__(self, host: str, ca_pem: str, credentials: tuple[str, str] | None = None):
        self.base = f"https://{host}"
        self.credentials = credentials
        self.session = requests.Session()
        # With each request: requests lets REQUESTS_CA_BUNDLE override a session's verify.
        self.verify = _ca_file(ca_pem)
        self._tokens: dict[str, str] = {}

    def request(self, method: str, repository: str, path: str, **kwargs: Any) -> requests.Response:
        url = path if path.startswith("http") else f"{self.base}/v2/{repository}/{path}"
        headers = kwargs.pop("headers", {})
        for _ in range(2):
            token = self._tokens.get(repository)
            auth_header = {"Authorization": f"Bearer {token}"} if token else {}
            response = self.session.request(
                method,
                url,
                headers={**headers, **auth_header},
                timeout=30,
                verify=self.verify,
                **kwargs,
            )
            if response.status_code != 401:
                return response
            self._authenticate(repository, response.headers.get("WWW-Authenticate", ""))
        return response

    def _authenticate(self, repository: str, challenge: str) -> None:
        scheme, _, rest = challenge.partition(" ")
        if scheme.lower() == "basic":
            self.session.auth = self.credentials
            return
        params = dict(_CHALLENGE_PARAM.findall(rest))
        answer = self.session.get(
            params["realm"],
            params={
                "service": params.get("service", ""),
                "scope": f"repository:{repository}:pull,push",
            },
            auth=self.credentials,
            timeout=30,
            verify=self.verify,
        )
        answer.raise_for_status()
        self._tokens[repository] = answer.json()["token"]

    def _check(self, response: requests.Response, what: str, *ok: int) -> requests.Response:
        if response.status_code not in ok:
            raise PushFailed(f"{what}: {response.status_code} {response.text[:500]}")
        return response

    def blob(self, repository: str, data: bytes, media_type: str) -> dict[str, Any]:
        """Upload ``data`` (monolithic: POST, then PUT with its digest); its descriptor."""
        digest = digest_of(data)
        if self.request("HEAD", repository, f"blobs/{digest}").status_code == 200:
            return descriptor(media_type, data)
        started = self._check(self.request("POST", repository, "blobs/uploads/"), "upload", 202)
        location = started.headers["Location"]
        if not location.startswith("http"):
            location = self.base + location
        separator = "&" if "?" in location else "?"
        self._check(
            self.request(
                "PUT",
                repository,
                f"{location}{separator}digest={digest}",
                data=data,
                headers={"Content-Type": "application/octet-stream"},
            ),
            f"blob {digest}",
            201,
        )
        return descriptor(media_type, data)

    def manifest(self, repository: str, reference: str, document: dict[str, Any]) -> str:
        """PUT a manifest under a tag (or, for "", its digest); returns its digest."""
        raw = compact(document)
        digest = digest_of(raw)
        self._check(
            self.request(
                "PUT",
                repository,
                f"manifests/{reference or digest}",
                data=raw,
                headers={"Content-Type": document["mediaType"]},
            ),
            f"manifest {repository}:{reference}",
            201,
        )
        return digest

    def get_manifest(self, repository: str, reference: str) -> tuple[str, bytes] | None:
        """(media type, bytes) of a manifest, None when there is none."""
        response = self.request(
            "GET", repository, f"manifests/{reference}", headers={"Accept": ACCEPT}
        )
        if response.status_code == 404:
            return None
        self._check(response, f"manifest {repository}:{reference}", 200)
        return response.headers.get("Content-Type", ""), response.content

    def delete(self, repository: str, digest: str) -> None:
        self._check(self.request("DELETE", repository, f"manifests/{digest}"), "delete", 202)

    def has_referrers_api(self, repository: str, digest: str) -> bool:
        response = self.request(
            "GET", repository, f"referrers/{digest}", headers={"Accept": OCI_INDEX}
        )
        return response.status_code == 200

    def add_referrer(self, repository: str, subject: str, entry: dict[str, Any]) -> None:
        """Where the registry has no referrers API, add ``entry`` to the referrers tag
        schema's index under ``sha256-<hex>`` (created if absent), as the distribution
        spec asks of a client pushing a manifest with a subject."""
        if self.has_referrers_api(repository, subject):
            return
        tag = subject.replace(":", "-", 1)
        found = self.get_manifest(repository, tag)
        manifests = json.loads(found[1]).get("manifests", []) if found else []
        manifests = [m for m in manifests if m.get("digest") != entry["digest"]] + [entry]
        index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}
        self.manifest(repository, tag, index)
