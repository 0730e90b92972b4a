"""A drift policy's rules, compiled for the engine: ignore rules, severity rules, managers.

Built from the plain documents stored on a DriftPolicy (already validated by `rules`),
so the engine never needs Django.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

from drift.engine.normalize import ObjectKey
from drift.engine.paths import Path, PatternSet, split
from drift.engine.severity import rank

RBAC_KINDS = ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding")

# Managers that apply what Git declares. Fields they own but Git no longer declares are
# drift (a removal that did not reach the cluster). Any manager using server-side apply
# (operation Apply) counts too.
DEFAULT_GITOPS_MANAGERS = frozenset(
    {
        "kubectl-client-side-apply",
        "argocd-controller",
        "argocd-application-controller",
        "kustomize-controller",
        "helm-controller",
        "helm",
        "flux",
        "driftcontrol",
    }
)
# Managers whose additions are expected: the control plane's own controllers.
DEFAULT_TRUSTED_MANAGERS = frozenset(
    {
        "kube-controller-manager",
        "kube-scheduler",
        "kubelet",
        "kube-apiserver",
        "cloud-controller-manager",
        "cluster-autoscaler",
        "vpa-recommender",
        "vpa-updater",
    }
)


@dataclass(frozen=True)
class Selector:
    groups: tuple[str, ...] | None = None
    kinds: tuple[str, ...] | None = None
    namespaces: tuple[str, ...] | None = None
    names: tuple[str, ...] | None = None

    @classmethod
    def of(cls, rule: dict[str, Any]) -> Selector:
        def globs(name: str) -> tuple[str, ...] | None:
            return tuple(rule[name]) if rule.get(name) else None

        return cls(globs("groups"), globs("kinds"), globs("namespaces"), globs("names"))

    def matches(self, key: ObjectKey) -> bool:
        return all(
            patterns is None or any(fnmatchcase(value, p) for p in patterns)
            for patterns, value in (
                (self.groups, key.group),
                (self.kinds, key.kind),
                (self.namespaces, key.namespace),
                (self.names, key.name),
            )
        )


@dataclass(frozen=True)
class SeverityRule:
    selector: Selector
    paths: PatternSet | None  # None: any path, and whole objects (missing, unmanaged)
    level: str
    # Alignment rule ids (globs): the rule ranks those alignment findings, and no drift.
    rules: tuple[str, ...] | None = None

    @classmethod
    def of(cls, rule: dict[str, Any]) -> SeverityRule:
        paths = PatternSet.of(rule["paths"]) if rule.get("paths") else None
        rules = tuple(rule["rules"]) if rule.get("rules") else None
        return cls(Selector.of(rule), paths, rule["level"], rules)

    def matches(self, key: ObjectKey, path: Path | None) -> bool:
        if self.rules is not None or not self.selector.matches(key):
            return False
        if self.paths is None:
            return True
        return path is not None and self.paths.matches(path)


def _rule(level: str, kinds: Sequence[str] = (), paths: Sequence[str] = ()) -> SeverityRule:
    document: dict[str, Any] = {"level": level}
    if kinds:
        document["kinds"] = list(kinds)
    if paths:
        document["paths"] = list(paths)
    return SeverityRule.of(document)


# The documented defaults (README, "Severity"), after a policy's own rules.
DEFAULT_SEVERITY_RULES: tuple[SeverityRule, ...] = (
    _rule("critical", kinds=RBAC_KINDS),
    _rule(
        "critical",
        paths=[
            "/**/securityContext/privileged",
            "/**/securityContext/capabilities",
            "/**/securityContext/allowPrivilegeEscalation",
            "/**/securityContext/runAsUser",
            "/**/securityContext/runAsNonRoot",
            "/**/hostPath",
            "/**/hostNetwork",
            "/**/hostPID",
            "/**/hostIPC",
            "/**/serviceAccountName",
            "/**/serviceAccount",
            "/**/automountServiceAccountToken",
        ],
    ),
    _rule("high", kinds=["Secret", "NetworkPolicy", "ServiceAccount"]),
    _rule(
        "high",
        paths=[
            "/**/containers/*/image",
            "/**/initContainers/*/image",
            "/**/command",
            "/**/args",
            "/**/env",
            "/**/envFrom",
            "/**/secretKeyRef",
            "/**/secretRef",
            "/**/secretName",
            "/**/imagePullSecrets",
        ],
    ),
    _rule("medium", paths=["/spec/replicas", "/**/resources"]),
    _rule(
        "low",
        paths=[
            "/metadata/labels",
            "/metadata/annotations",
            "/**/metadata/labels",
            "/**/metadata/annotations",
        ],
    ),
)
FALLBACK_LEVEL = "medium"
UNDECLARED_LEVEL = "low"


@dataclass
class EnginePolicy:
    """What the engine needs of a policy; build it once per scan with `from_documents`."""

    ignore_rules: list[tuple[Selector, PatternSet | None]] = field(default_factory=list)
    severity_rules: list[SeverityRule] = field(default_factory=list)
    gitops_managers: frozenset[str] = DEFAULT_GITOPS_MANAGERS
    trusted_managers: frozenset[str] = DEFAULT_TRUSTED_MANAGERS
    report_undeclared: bool = False
    _ignore_cache: dict[tuple[tuple[int, ...], tuple[str, ...]], PatternSet] = field(
        default_factory=dict
    )

    @classmethod
    def from_documents(
        cls,
        ignore: Iterable[dict[str, Any]] = (),
        severity: Iterable[dict[str, Any]] = (),
        gitops_managers: Iterable[str] = (),
        trusted_managers: Iterable[str] = (),
        report_undeclared: bool = False,
    ) -> EnginePolicy:
        return cls(
            ignore_rules=[
                (Selector.of(rule), PatternSet.of(rule["paths"]) if rule.get("paths") else None)
                for rule in ignore
            ],
            severity_rules=[SeverityRule.of(rule) for rule in severity],
            gitops_managers=DEFAULT_GITOPS_MANAGERS | frozenset(gitops_managers),
            trusted_managers=DEFAULT_TRUSTED_MANAGERS | frozenset(trusted_managers),
            report_undeclared=report_undeclared,
        )

    def ignored_object(self, key: ObjectKey) -> bool:
        """A rule naming no paths ignores the objects it selects entirely."""
        return any(paths is None and selector.matches(key) for selector, paths in self.ignore_rules)

    def ignore_for(self, key: ObjectKey, extra: Sequence[str] = ()) -> PatternSet | None:
        """The ignored paths of one object: policy rules that select it, plus ``extra``."""
        chosen = tuple(
            i
            for i, (selector, paths) in enumerate(self.ignore_rules)
            if paths is not None and selector.matches(key)
        )
        if not chosen and not extra:
            return None
        cache_key = (chosen, tuple(extra))
        found = self._ignore_cache.get(cache_key)
        if found is None:
            found = PatternSet()
            for index in chosen:
                for segments in self.ignore_rules[index][1].sources:  # type: ignore[union-attr]
                    found.add(segments)
            for text in extra:
                found.add(split(text))
            self._ignore_cache[cache_key] = found
        return found

    def alignment_level(self, key: ObjectKey, rule_id: str) -> str | None:
        """The policy's level for an alignment finding, if one of its rules names it."""
        for rule in self.severity_rules:
            named = rule.rules is not None and any(fnmatchcase(rule_id, p) for p in rule.rules)
            if named and rule.selector.matches(key):
                return rule.level
        return None

    def level(self, key: ObjectKey, path: Path | None, undeclared: bool = False) -> str:
        """First matching rule wins: the policy's own, then the defaults."""
        for rule in (*self.severity_rules, *DEFAULT_SEVERITY_RULES):
            if rule.matches(key, path):
                if undeclared:
                    # Fields someone added live are low unless a rule ranks them higher.
                    return (
                        rule.level
                        if rank(rule.level) > rank(UNDECLARED_LEVEL)
                        else UNDECLARED_LEVEL
                    )
                return rule.level
        return UNDECLARED_LEVEL if undeclared else FALLBACK_LEVEL
