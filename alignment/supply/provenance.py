"""What an SLSA provenance predicate claims: who built the image, from which repository and
commit, at which build level. Read from v1 (slsa.dev/provenance/v1) and v0.2 predicates as
builders write them; whether to believe them is the envelope signature's business.

Where each claim comes from:

    builder   v1: runDetails.builder.id            v0.2: builder.id
    source    v1: the git resolvedDependency, else externalParameters.workflow.repository
              v0.2: invocation.configSource.uri, else the first git material
    revision  the same entry's digest: gitCommit, or sha1
    level     the builder's `slsaBuildLevel` when the statement states one (an extension
              field on the builder object; neither version has a standard place for it),
              else BUILDER_LEVELS below, else None (unknown)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from alignment.supply.dsse import Statement
from alignment.supply.keys import Attribution
from alignment.supply.verdict import Provenance

SLSA_V1 = "https://slsa.dev/provenance/v1"
SLSA_V02 = "https://slsa.dev/provenance/v0.2"
PREDICATE_TYPES = (SLSA_V1, SLSA_V02)

# Builders whose build level their makers document; matched on the builder id. Keep this
# short and sourced: a wrong entry would let a lane's minLevel pass on a weaker builder.
BUILDER_LEVELS: tuple[tuple[re.Pattern[str], int], ...] = (
    # slsa-github-generator's *_slsa3.yml reusable workflows at a release tag: Build L3
    # (github.com/slsa-framework/slsa-github-generator, README "SLSA level 3").
    (
        re.compile(
            r"^https://github\.com/slsa-framework/slsa-github-generator/\.github/workflows/"
            r"[A-Za-z0-9_.-]+_slsa3\.yml@refs/tags/v[0-9][0-9.]*$"
        ),
        3,
    ),
    # GitHub artifact attestations on GitHub-hosted runners: Build L2 (docs.github.com,
    # "Using artifact attestations to establish provenance for builds").
    (re.compile(r"^https://github\.com/actions/runner/github-hosted$"), 2),
    # Google Cloud Build's hosted workers: Build L3 (cloud.google.com/build/docs/securing-builds).
    (re.compile(r"^https://cloudbuild\.googleapis\.com/GoogleHostedWorker(@.*)?$"), 3),
)
_GIT_DIGESTS = ("gitCommit", "sha1")
_LEVEL = re.compile(r"^(?:SLSA_BUILD_LEVEL_|L)?([0-4])$")


@dataclass(frozen=True, slots=True)
class Claims:
    predicate_type: str
    builder: str
    level: int | None
    source: str  # normalised (normalise_source)
    revision: str  # "" if the predicate states none


def read(predicate_type: str, predicate: Mapping[str, Any]) -> Claims:
    """The claims of an SLSA provenance predicate; ValueError if it is none or names no
    builder."""
    if predicate_type == SLSA_V1:
        run = _map(predicate.get("runDetails"))
        builder = _map(run.get("builder"))
        source, revision = _v1_source(_map(predicate.get("buildDefinition")))
    elif predicate_type == SLSA_V02:
        builder = _map(predicate.get("builder"))
        source, revision = _v02_source(predicate)
    else:
        raise ValueError(f"not an SLSA provenance predicate: {predicate_type[:120]!r}")
    builder_id = builder.get("id")
    if not isinstance(builder_id, str) or not builder_id:
        raise ValueError("the provenance names no builder id")
    level = stated_level(builder)
    if level is None:
        level = builder_level(builder_id)
    return Claims(predicate_type, builder_id, level, source, revision)


def attested(statement: Statement, verdict: Attribution, scheme: str) -> Provenance:
    """The Provenance entry for a verified-or-not SLSA statement: its claims if readable."""
    try:
        claims = read(statement.predicate_type, statement.predicate)
    except ValueError as error:
        claims = Claims(statement.predicate_type, "", None, "", "")
        verdict = Attribution(verdict.state, verdict.signer, f"unreadable predicate: {error}")
    return Provenance(
        predicate_type=claims.predicate_type,
        builder=claims.builder,
        level=claims.level,
        source=claims.source,
        revision=claims.revision,
        signature=verdict.state,
        signer=verdict.signer,
        reason=verdict.reason,
        scheme=scheme,
    )


def builder_level(builder_id: str) -> int | None:
    """The build level BUILDER_LEVELS documents for a builder, None if it knows none."""
    return next((level for pattern, level in BUILDER_LEVELS if pattern.match(builder_id)), None)


def stated_level(builder: Mapping[str, Any]) -> int | None:
    value = builder.get("slsaBuildLevel")
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 <= value <= 4 else None
    match = _LEVEL.match(value) if isinstance(value, str) else None
    return int(match.group(1)) if match else None


@lru_cache(maxsize=4096)
def normalise_source(uri: str) -> str:
    """A source repository as provenance, lanes and Git sources all name it, comparably:
    `git+https://github.com/a/b.git@refs/heads/main`, `https://github.com/a/b/` and
    `git@github.com:a/b.git` are all `https://github.com/a/b` (credentials dropped)."""
    value = uri.strip().removeprefix("git+")
    if value.startswith("git@") and ":" in value:  # scp-like SSH: git@host:owner/repo
        host, _, path = value[4:].partition(":")
        value = f"https://{host}/{path}"
    scheme, sep, rest = value.partition("://")
    if not sep:
        scheme, rest = "", value
    host, slash, path = rest.partition("/")
    host = host.rpartition("@")[2].lower()  # user info is no part of the repository
    # "@" in the path starts a ref (git+https://host/a/b@refs/heads/main).
    path = path.split("@", 1)[0].split("#", 1)[0].split("?", 1)[0]
    path = path.rstrip("/").removesuffix(".git").rstrip("/")
    prefix = f"{scheme.lower()}://" if sep else ""
    return f"{prefix}{host}{slash if path else ''}{path}"


def _v1_source(definition: Mapping[str, Any]) -> tuple[str, str]:
    for dependency in _list(definition.get("resolvedDependencies")):
        found = _git_entry(dependency)
        if found:
            return found
    parameters = _map(definition.get("externalParameters"))
    workflow = _map(parameters.get("workflow"))
    for candidate in (workflow.get("repository"), parameters.get("source")):
        if isinstance(candidate, Mapping):
            candidate = candidate.get("uri")
        if isinstance(candidate, str) and candidate:
            return normalise_source(candidate), ""
    return "", ""


def _v02_source(predicate: Mapping[str, Any]) -> tuple[str, str]:
    config = _map(_map(predicate.get("invocation")).get("configSource"))
    if isinstance(config.get("uri"), str) and config["uri"]:
        return normalise_source(config["uri"]), _git_revision(_map(config.get("digest")))
    for material in _list(predicate.get("materials")):
        found = _git_entry(material)
        if found:
            return found
    return "", ""


def _git_entry(entry: Any) -> tuple[str, str] | None:
    """(source, revision) of a resolvedDependency or material that is a Git checkout."""
    entry = _map(entry)
    uri = entry.get("uri")
    if not isinstance(uri, str) or not uri:
        return None
    revision = _git_revision(_map(entry.get("digest")))
    if uri.startswith("git+") or revision:
        return normalise_source(uri), revision
    return None


def _git_revision(digest: Mapping[str, Any]) -> str:
    for algorithm in _GIT_DIGESTS:
        value = digest.get(algorithm)
        if isinstance(value, str) and re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", value):
            return value
    return ""


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
