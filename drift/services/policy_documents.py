"""DriftPolicy documents as people write them in the dashboard's editor: YAML text, read
and checked as `drift apply` checks a file (`configuration.validate`), and saved through
`configuration` (via `editing`, which keeps "add" from replacing and "edit" from renaming).

Every refusal is an Invalid whose problems name the document's own paths (`spec.interval`),
or `document` for the text itself (a YAML error, with its line and column).
"""

from __future__ import annotations

from typing import Any

import yaml

from drift import declarative
from drift.declarative.reading import NAME_PATTERN
from drift.engine import bounds
from drift.engine.rules import Problem
from drift.models import Cluster, GitSource
from drift.services import configuration, editing
from driftcontrol.exceptions import Invalid

# A policy is a few kilobytes; aliases that add more than this are not a policy.
ALIAS_BYTES = 64 << 10
KIND = "DriftPolicy"


_TEMPLATE = """\
# A DriftPolicy: which clusters are compared with which Git source, and what happens to
# drift. "Validate" checks it as `drift apply` would; "Dry run" shows what it finds now.
# Nothing is stored until you save. Lines starting with # are comments.
apiVersion: {api_version}
kind: DriftPolicy
metadata:
  name: my-policy              # lowercase letters, digits and '-'; kept once saved
spec:
  description: ""
  source: {source}{source_note}
  clusters:
    names: [{clusters}]{cluster_note}
    # selector: {{matchLabels: {{env: prod}}}}   # or choose clusters by their labels
  namespace: default           # for namespaced manifests that name none
  namespaces: {{include: [], exclude: [kube-system]}}   # globs; empty include: all
  kinds: {{include: [], exclude: [Event]}}
  interval: 5m                 # between scheduled scans: 90s, 2m, 1h30m; at least 10s
  syncGracePeriod: 10m         # how long live objects may lag Git's head (sync.lagging)
  mode: detect-only            # or enforce: remediate up to autoRemediateUpTo by itself
  detectUnmanaged: false       # also report live objects in scope that Git lacks
  undeclaredFields: ignore     # or report: fields set live that Git leaves out
  ignore: []
  # - kinds: [Deployment]      # differences never reported
  #   paths: ["/spec/template/metadata/annotations/kubectl.kubernetes.io~1restartedAt"]
  severity: []
  # - kinds: [ConfigMap]       # how severe a difference is
  #   paths: ["/data/*"]
  #   level: medium            # critical | high | medium | low | info
  remediation:
    strategy: sync             # sync | rollback | alert
    autoRemediateUpTo: none    # none | info | low | medium | high | critical
    prune: false               # may a sync delete unmanaged objects
"""


def template() -> str:
    """A new policy's starting text: every common field, commented, naming a stored Git
    source and cluster so that it validates as it stands (when there are any)."""
    source = GitSource.objects.order_by("name").values_list("name", flat=True).first()
    cluster = Cluster.objects.order_by("name").values_list("name", flat=True).first()
    return _TEMPLATE.format(
        api_version=declarative.API_VERSION,
        source=source or '""',
        source_note="  # a Git source, see Sources" if source else "  # add a Git source first",
        clusters=cluster or "",
        cluster_note="  # cluster names" if cluster else "  # no cluster yet: add one first",
    )


def read(text: str, name: str | None = None) -> dict[str, Any]:
    """The one DriftPolicy document in text. ``name``: the policy being edited, whose name
    the document must keep. Raises Invalid naming every problem of its envelope."""
    document = _load(text)
    problems = []
    if document.get("apiVersion") != declarative.API_VERSION:
        problems.append(Problem("apiVersion", f"must be {declarative.API_VERSION}"))
    if document.get("kind") != KIND:
        problems.append(Problem("kind", f"must be {KIND}: this editor writes policies"))
    metadata = document.get("metadata")
    named = metadata.get("name") if isinstance(metadata, dict) else None
    if name is not None and named != name:
        problems.append(
            Problem("metadata.name", f"must stay {name}: a policy keeps its name once made")
        )
    elif not isinstance(named, str) or not NAME_PATTERN.match(named):
        problems.append(Problem("metadata.name", "must be a lowercase DNS label (a-z, 0-9, '-')"))
    if problems:
        raise Invalid(problems)
    return document


def check(text: str, name: str | None = None) -> declarative.Planned:
    """What saving text would write, once it is found valid; nothing is written."""
    return configuration.validate(read(text, name))


def create(text: str, actor: Any) -> declarative.Applied:
    return editing.create(read(text), actor)


def update(text: str, actor: Any, name: str) -> declarative.Applied:
    return editing.update(read(text, name), actor, name)


def _load(text: str) -> dict[str, Any]:
    try:
        nodes = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
        if len([node for node in nodes if node is not None]) > 1:
            raise Invalid([Problem("document", "holds several documents: write one policy")])
        # Measured before it is built: a few aliases could expand into gigabytes.
        for node in nodes:
            if node is not None and bounds.measure(node).added > ALIAS_BYTES:
                raise Invalid([Problem("document", "YAML aliases expand it too far")])
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise Invalid([Problem("document", _where(error))]) from None
    except bounds.TooLarge as error:
        raise Invalid([Problem("document", str(error))]) from None
    if not isinstance(document, dict):
        raise Invalid(
            [Problem("document", "must be a mapping with apiVersion, kind, metadata and spec")]
        )
    return document


def _where(error: yaml.YAMLError) -> str:
    """A YAML error as people read it: line and column (from 1) first, then what is wrong."""
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error)
    context = getattr(error, "context", None)
    said = f"{problem} ({context})" if context else problem
    if mark is None:
        return f"is not valid YAML: {said}"
    return f"is not valid YAML at line {mark.line + 1}, column {mark.column + 1}: {said}"
