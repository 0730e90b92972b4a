"""Sigstore bundles (github.com/sigstore/protobuf-specs), attached to an image as OCI 1.1
referrers, and as Sigstore signs blobs.

A bundle signs either the image manifest's digest (messageSignature) or an in-toto statement
in a DSSE envelope whose subject names the digest: with cosign's
"https://sigstore.dev/cosign/sign/v1" predicate it is a signature, with an SLSA predicate it
is provenance. Its verificationMaterial says who signed:

- a public key hint (keyed): checked here with the lane key the hint names, or the lane's keys;
- a certificate (keyless): checked OFFLINE by sigstore's Verifier against the lane's trusted
  root (chain, SCT, transparency log inclusion proof, signed time, signature), with the
  lane's identities as the policy. We never validate an X.509 path ourselves.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ed25519
from sigstore.errors import CertValidationError, Error, VerificationError
from sigstore.hashes import Hashed
from sigstore.models import Bundle, TrustedRoot
from sigstore.verify import Verifier, policy
from sigstore_models.common.v1 import HashAlgorithm
from sigstore_models.trustroot.v1 import TrustedRoot as TrustedRootMessage

from alignment.supply import dsse, provenance
from alignment.supply.keys import (
    Attribution,
    BadKey,
    NamedKey,
    PublicKey,
    attribute,
    by_hint,
    identity,
    supported,
    verifies_digest,
)
from alignment.supply.refs import is_digest
from alignment.supply.verdict import INVALID, TRUSTED, UNTRUSTED, Provenance, Signature

MEDIA_TYPE_PREFIX = "application/vnd.dev.sigstore.bundle"
COSIGN_SIGN = "https://sigstore.dev/cosign/sign/v1"
MAX_BUNDLE = 4 << 20
_ED25519_MESSAGE = "an Ed25519 key cannot sign a bare manifest digest; sign a DSSE statement"


class KeylessIdentity(Protocol):
    """A lane's keyless signer (verify.KeylessSigner): exact SAN, or a regex on it."""

    @property
    def name(self) -> str: ...
    @property
    def issuer(self) -> str: ...
    @property
    def subject(self) -> str: ...
    @property
    def subject_pattern(self) -> str: ...


@dataclass(frozen=True, slots=True)
class _Content:
    """What a bundle signs, read from its JSON before anything is verified."""

    signature: bytes  # messageSignature.signature (empty for DSSE)
    message_digest: bytes | None  # messageSignature.messageDigest, SHA2_256
    envelope: dsse.Envelope | None
    statement: dsse.Statement | None


def judge_bundle(
    raw: bytes,
    digest: str,
    ring: Iterable[NamedKey],
    identities: Sequence[KeylessIdentity],
    trusted_root_json: str,
) -> Signature | Provenance | None:
    """A referrer's bundle for the image `digest`: a Signature, a Provenance, or None when it
    is about something else (another predicate, or provenance of another digest)."""
    try:
        data = _load(raw)
        content = _content(data)
    except ValueError as error:
        return Signature("bundle", "", INVALID, str(error))
    statement = content.statement
    if statement is not None:
        slsa = statement.predicate_type in provenance.PREDICATE_TYPES
        if not slsa and statement.predicate_type != COSIGN_SIGN:
            return None
        if not statement.names(digest):
            return None if slsa else _invalid("the statement names another image")
    image_sha = _sha256(digest)
    if content.envelope is None and content.message_digest not in (None, image_sha):
        return _invalid("the message signature is over another digest")
    material = data["verificationMaterial"]
    if "publicKey" in material:
        verdict = _keyed(material["publicKey"], content, image_sha, ring)
    else:
        verdict = _keyless_image(raw, content, image_sha, identities, trusted_root_json)
    if statement is not None and statement.predicate_type in provenance.PREDICATE_TYPES:
        return provenance.attested(statement, verdict, "bundle")
    return Signature("bundle", verdict.signer, verdict.state, verdict.reason)


def verify_blob_bundle(
    bundle_json: bytes | str, artifact: bytes, trusted_root_json: str, signer: KeylessIdentity
) -> Signature:
    """A keyless bundle over a blob (as `sigstore sign` and `cosign sign-blob` write them),
    judged like an image's: the same offline verification, identity policy and verdicts."""
    raw = bundle_json.encode() if isinstance(bundle_json, str) else bundle_json
    try:
        content = _content(_load(raw))
        if content.envelope is not None:
            raise ValueError("a DSSE bundle signs a statement, not a blob")
        bundle = _sigstore_bundle(raw)
    except ValueError as error:
        return _invalid(str(error))
    sha = hashlib.sha256(artifact).digest()
    verdict = _keyless(
        bundle,
        (signer,),
        trusted_root_json,
        lambda verifier, who: verifier.verify_artifact(artifact, bundle, who),
        lambda key: verifies_digest(key, content.signature, sha),
    )
    return Signature("bundle", verdict.signer, verdict.state, verdict.reason)


def _keyed(
    key_material: Any, content: _Content, image_sha: bytes | None, ring: Iterable[NamedKey]
) -> Attribution:
    hint = key_material.get("hint", "") if isinstance(key_material, Mapping) else ""
    hint = hint[:200] if isinstance(hint, str) else ""
    ring = tuple(ring)
    named = by_hint(ring, hint)
    envelope = content.envelope
    if envelope is not None:

        def signed(key: PublicKey) -> bool:
            return dsse.signed_by(envelope, key)
    else:

        def signed(key: PublicKey) -> bool:
            return image_sha is not None and verifies_digest(key, content.signature, image_sha)

    if named is None:
        return attribute(ring, signed, None, hint)
    verdict = attribute(ring, signed, named.key, named.fingerprint)
    ed25519_message = envelope is None and isinstance(named.key, ed25519.Ed25519PublicKey)
    if verdict.state == INVALID and ed25519_message:
        return Attribution(INVALID, verdict.signer, _ED25519_MESSAGE)
    return verdict


def _keyless_image(
    raw: bytes,
    content: _Content,
    image_sha: bytes | None,
    identities: Sequence[KeylessIdentity],
    trusted_root_json: str,
) -> Attribution:
    try:
        bundle = _sigstore_bundle(raw)
    except ValueError as error:
        return Attribution(INVALID, "", str(error))
    envelope = content.envelope
    if envelope is not None:

        def run(verifier: Verifier, who: policy.VerificationPolicy) -> None:
            _, payload = verifier.verify_dsse(bundle, who)
            if envelope is None or payload != envelope.payload:
                raise VerificationError("the verified payload is not the statement read")

        def own(key: PublicKey) -> bool:
            return envelope is not None and dsse.signed_by(envelope, key)
    else:
        if image_sha is None:
            return Attribution(INVALID, identity(bundle.signing_certificate), "not a sha256 image")
        hashed = Hashed(algorithm=HashAlgorithm.SHA2_256, digest=image_sha)

        def run(verifier: Verifier, who: policy.VerificationPolicy) -> None:
            verifier.verify_artifact(hashed, bundle, who)

        def own(key: PublicKey) -> bool:
            return verifies_digest(key, content.signature, hashed.digest)

    return _keyless(bundle, identities, trusted_root_json, run, own)


def _keyless(
    bundle: Bundle,
    identities: Sequence[KeylessIdentity],
    trusted_root_json: str,
    run: Callable[[Verifier, policy.VerificationPolicy], None],
    own: Callable[[PublicKey], bool],
) -> Attribution:
    """Verify a certificate bundle with sigstore (`run`), then say whose it is. `own(key)`
    checks just the signature with the certificate's key, to tell a certificate from an
    unknown CA (untrusted) from an altered signature (invalid) when the chain fails."""
    certificate = bundle.signing_certificate
    who = identity(certificate)
    if not trusted_root_json:
        return Attribution(UNTRUSTED, who, "no Sigstore trusted root is configured")
    try:
        verifier = _verifier(trusted_root_json)
    except (Error, ValueError) as error:
        return Attribution(UNTRUSTED, who, f"the trusted root is unusable: {_line(error)}")
    matcher = _WhoSigned(identities)
    try:
        run(verifier, matcher)
    except CertValidationError as error:
        if _own_check(certificate, own):
            reason = f"its certificate does not chain to the trusted root: {_line(error)}"
            return Attribution(UNTRUSTED, who, reason)
        return Attribution(INVALID, who, "does not verify with its certificate")
    except (Error, ValueError) as error:
        return Attribution(INVALID, who, _line(error))
    if matcher.matched:
        return Attribution(TRUSTED, matcher.matched)
    return Attribution(UNTRUSTED, who, "not a signer of this lane")


class _WhoSigned:
    """A sigstore VerificationPolicy that records which lane identity the certificate
    matches and never fails: sigstore still checks everything else, and a sound signature
    by someone the lane does not list is untrusted, not invalid."""

    def __init__(self, identities: Iterable[KeylessIdentity]) -> None:
        self.matched = ""
        self._policies = [(i.name, p) for i in identities if (p := _policy(i)) is not None]

    def verify(self, cert: x509.Certificate) -> None:
        for name, candidate in self._policies:
            try:
                candidate.verify(cert)
            except VerificationError:
                continue
            self.matched = name
            return


class _SanPattern:
    """The issuer exactly (sigstore's OIDCIssuer), and a SAN matching a regular expression
    (searched, as cosign's --certificate-identity-regexp does)."""

    def __init__(self, issuer: str, pattern: str) -> None:
        self._issuer = policy.OIDCIssuer(issuer)
        self._pattern = re.compile(pattern)

    def verify(self, cert: x509.Certificate) -> None:
        self._issuer.verify(cert)
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        sans = [
            *names.get_values_for_type(x509.UniformResourceIdentifier),
            *names.get_values_for_type(x509.RFC822Name),
        ]
        if not any(self._pattern.search(san) for san in sans):
            raise VerificationError(f"no SAN matches {self._pattern.pattern}")


def _policy(signer: KeylessIdentity) -> policy.VerificationPolicy | None:
    if not signer.issuer:
        return None  # an identity from any issuer is no identity
    if signer.subject:
        return policy.Identity(identity=signer.subject, issuer=signer.issuer)
    if signer.subject_pattern:
        try:
            return _SanPattern(signer.issuer, signer.subject_pattern)
        except re.error:
            return None
    return None


@lru_cache(maxsize=8)
def _verifier(trusted_root_json: str) -> Verifier:
    # Parsing a trusted root and loading its certificates costs more than verifying one
    # bundle; lanes share a handful of roots.
    root = TrustedRoot(TrustedRootMessage.from_json(trusted_root_json))
    return Verifier(trusted_root=root)


def _sigstore_bundle(raw: bytes) -> Bundle:
    try:
        return Bundle.from_json(raw)
    except (Error, ValueError, TypeError, KeyError) as error:
        raise ValueError(f"not a usable Sigstore bundle: {_line(error)}") from None


def _own_check(certificate: x509.Certificate, own: Callable[[PublicKey], bool]) -> bool:
    try:
        return own(supported(certificate.public_key()))
    except BadKey:
        return False


def _load(raw: bytes) -> Mapping[str, Any]:
    if len(raw) > MAX_BUNDLE:
        raise ValueError(f"the bundle is larger than {MAX_BUNDLE} bytes")
    data = dsse.load_json(raw, "the bundle")
    if not isinstance(data, Mapping):
        raise ValueError("the bundle is not a JSON object")
    media_type = data.get("mediaType")
    if not isinstance(media_type, str) or not media_type.startswith(MEDIA_TYPE_PREFIX):
        raise ValueError(f"not a Sigstore bundle (mediaType {str(media_type)[:80]!r})")
    if not isinstance(data.get("verificationMaterial"), Mapping):
        raise ValueError("the bundle has no verificationMaterial")
    return data


def _content(data: Mapping[str, Any]) -> _Content:
    message, envelope = data.get("messageSignature"), data.get("dsseEnvelope")
    if (message is None) == (envelope is None):
        raise ValueError("a bundle holds exactly one of messageSignature and dsseEnvelope")
    if envelope is not None:
        parsed = dsse.parse_envelope(envelope)
        if parsed.payload_type != dsse.IN_TOTO_PAYLOAD:
            raise ValueError(f"the envelope's payloadType is {parsed.payload_type[:80]!r}")
        return _Content(b"", None, parsed, dsse.parse_statement(parsed.payload))
    if not isinstance(message, Mapping):
        raise ValueError("the messageSignature is not an object")
    signature = dsse.b64(message.get("signature"), "messageSignature.signature")
    stated = message.get("messageDigest")
    if stated is None:
        return _Content(signature, None, None, None)
    if not isinstance(stated, Mapping) or stated.get("algorithm") != "SHA2_256":
        raise ValueError("the messageDigest is not a SHA2_256 digest")
    return _Content(signature, dsse.b64(stated.get("digest"), "messageDigest"), None, None)


def _sha256(digest: str) -> bytes | None:
    if digest.startswith("sha256:") and is_digest(digest):
        return bytes.fromhex(digest.removeprefix("sha256:"))
    return None


def _invalid(reason: str) -> Signature:
    return Signature("bundle", "", INVALID, reason)


def _line(error: BaseException) -> str:
    return " ".join(str(error).split())[:200]
