"""Whether a kubeconfig lets DriftControl do its work on a cluster: reach the API server,
read the kinds scans compare, write them for remediation.

Asked before anything is saved (the dashboard's "Test connection"), so nothing is stored
or recorded here, not even the contact. The identity's rights are asked of the server
(SelfSubjectAccessReviews), never tried out: a test must not change the cluster.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Literal

from drift import kube
from drift.models import Cluster, DriftPolicy
from drift.services import clusters
from drift.services.desired import Scope

READ_VERBS = ("get", "list", "watch")  # a scan lists, and watching keeps it current
WRITE_VERBS = ("patch", "update", "create", "delete")  # apply, replace, recreate, prune
# Every scan reads these; remediation writes all but namespaces.
CORE_KINDS = (("", "Namespace"), ("", "ConfigMap"), ("", "Service"), ("apps", "Deployment"))
# Kinds and namespaces taken from the policies: a sample, so that the answer stays quick.
MAX_POLICY_KINDS = 6
MAX_NAMESPACES = 3
# Someone is waiting for the answer: a blackholed address must fail within seconds, not
# after the (5 s connect + 30 s read) x 3 attempts a scan allows itself.
TIMEOUT = (3.0, 5.0)
WORKERS = 8
# Why a server could not be reached, told apart by what urllib3 and ssl say; the first
# that matches explains it ({where}: the server's URL).
_UNREACHABLE = (
    (
        re.compile(r"SSL|TLS|certificate", re.IGNORECASE),
        "TLS with {where} failed: its certificate is not one the kubeconfig's certificate "
        "authority signed, or not for this address",
    ),
    (
        re.compile(r"timed? ?out", re.IGNORECASE),
        f"{{where}} did not answer within {TIMEOUT[0]:g} seconds: is the address right, and "
        "can this server reach it through the firewalls?",
    ),
    (
        re.compile(r"Connection refused"),
        "{where} refused the connection: nothing listens at that address and port",
    ),
    (
        re.compile(r"Name or service not known|nodename nor servname|getaddrinfo failed"),
        "{where} could not be reached: its host name does not resolve",
    ),
)

Verdict = Literal["unreachable", "cannot-read", "read-only", "full"]


@dataclass(frozen=True)
class Question:
    """One thing asked of the server: may this identity ``verb`` the resource?"""

    verb: str
    resource: kube.Resource
    namespace: str | None
    writes: bool

    @property
    def resource_name(self) -> str:
        """As kubectl names it: `deployments.apps`, `configmaps`."""
        plural = self.resource.plural
        return f"{plural}.{self.resource.group}" if self.resource.group else plural

    def __str__(self) -> str:
        where = f" in namespace {self.namespace}" if self.namespace else ""
        return f"cannot {self.verb} {self.resource_name}{where}"


@dataclass
class AccessReport:
    """What the test found: the server, or why it could not be asked, and what is missing."""

    stored: bool = False  # tested the kubeconfig stored for the cluster
    server: str = ""
    version: str = ""
    problem: str = ""  # one sentence when the server could not be asked
    checked: list[str] = field(default_factory=list)  # resources asked about
    where: str = "across all namespaces"
    missing_read: list[Question] = field(default_factory=list)
    missing_write: list[Question] = field(default_factory=list)

    @property
    def verdict(self) -> Verdict:
        if self.problem:
            return "unreachable"
        if self.missing_read:
            return "cannot-read"
        return "read-only" if self.missing_write else "full"

    @property
    def summary(self) -> str:
        return {
            "unreachable": "The connection test failed.",
            "cannot-read": "Cannot read: scans will fail.",
            "read-only": "Read-only identity: detection works, remediation will fail.",
            "full": "Detection and remediation will work.",
        }[self.verdict]


def check(
    kubeconfig: str | None,
    context: str = "",
    cluster: str = "",
    labels: dict[str, str] | None = None,
) -> AccessReport:
    """Test ``kubeconfig`` (None: the one stored for ``cluster``; "": none) with ``context``. The
    cluster's name and labels pick the enabled policies that would target it, whose kinds
    and namespaces are sampled along with the core kinds."""
    report = AccessReport(stored=kubeconfig is None)
    if kubeconfig is None:
        kubeconfig = _stored(cluster)
    if not kubeconfig:
        report.problem = "Give a kubeconfig to test: choose its file or paste it."
        return report
    try:
        connection = kube.Kube(
            kubeconfig,
            context or None,
            timeout=TIMEOUT,
            retries=0,
            credentials=clusters.credential_policy(),
        )
    except kube.KubeError as error:
        report.problem = _sentence(error, "")
        return report
    report.server = connection.server
    try:
        report.version = connection.version()
        questions, report.where = _questions(connection.discover(), _policies(cluster, labels))
        report.checked = list(dict.fromkeys(q.resource_name for q in questions))
        for question in _refused(connection, questions):
            (report.missing_write if question.writes else report.missing_read).append(question)
    except kube.KubeError as error:
        report.problem = _sentence(error, report.server)
    return report


def _stored(name: str) -> str:
    cluster = Cluster.objects.filter(name=name).first() if name else None
    return cluster.read_credentials() if cluster is not None else ""


def _policies(name: str, labels: dict[str, str] | None) -> list[DriftPolicy]:
    """The enabled policies that would target a cluster of this name and labels (as if it
    were enabled: the test says what it would need)."""
    candidate = Cluster(name=name, labels=labels or {}, enabled=True)
    return [
        policy
        for policy in DriftPolicy.objects.filter(enabled=True).order_by("name")
        if clusters.is_target(policy, candidate)
    ]


def _questions(
    discovery: kube.Discovery, policies: list[DriftPolicy]
) -> tuple[list[Question], str]:
    """What to ask, and where: across all namespaces, unless every policy lists its
    namespaces by name (scans then list those one by one)."""
    scopes = [Scope.of(policy) for policy in policies]
    listed = [scope.listed_namespaces() for scope in scopes]
    namespaces: list[str | None] = [None]
    where = "across all namespaces"
    if listed and all(names is not None for names in listed):
        chosen = sorted({name for names in listed for name in names or ()})[:MAX_NAMESPACES]
        noun = "namespaces" if len(chosen) > 1 else "namespace"
        namespaces, where = list(chosen), f"in {noun} {', '.join(chosen)}"
    questions: list[Question] = []
    for resource in _kinds(discovery, scopes, whole_cluster=namespaces == [None]):
        writes = resource.kind != "Namespace"
        for namespace in namespaces if resource.namespaced else [None]:
            questions += [Question(verb, resource, namespace, False) for verb in READ_VERBS]
            if writes:
                questions += [Question(verb, resource, namespace, True) for verb in WRITE_VERBS]
    return questions, where


def _kinds(
    discovery: kube.Discovery, scopes: list[Scope], whole_cluster: bool
) -> list[kube.Resource]:
    """The core kinds the server serves, then a few more the policies name."""
    core = [discovery.preferred.get(key) for key in CORE_KINDS]
    kinds = [r for r in core if r is not None and (whole_cluster or r.kind != "Namespace")]
    named = [scope for scope in scopes if scope.kinds_include]
    extra = sorted(
        (
            resource
            for resource in discovery.listable()
            if resource not in kinds and any(scope.kind_in_scope(resource.kind) for scope in named)
        ),
        key=lambda r: (r.group, r.kind),
    )
    return kinds + extra[:MAX_POLICY_KINDS]


def _refused(connection: kube.Kube, questions: Iterable[Question]) -> list[Question]:
    """The questions the server answers no to (asked in parallel: there may be dozens)."""

    def refused(question: Question) -> bool:
        return not connection.can_i(question.verb, question.resource, question.namespace)

    asked = list(questions)
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        answers = list(pool.map(refused, asked))
    return [question for question, no in zip(asked, answers, strict=True) if no]


def _sentence(error: kube.KubeError, server: str) -> str:
    """What went wrong, in one sentence for the person who gave the kubeconfig."""
    where = server or "The API server"
    if isinstance(error, kube.BadKubeconfig):
        return "The kubeconfig cannot be used on this server: " + "; ".join(error.problems)
    if isinstance(error, kube.Unreachable):
        detail = str(error).removeprefix(f"{server}: ")
        because = next(
            (text for pattern, text in _UNREACHABLE if pattern.search(detail)),
            "{where} could not be reached",
        )
        return f"{because.format(where=where)} ({detail})."
    if error.status == 401:
        return (
            f"{where} refused the kubeconfig's credentials (401 Unauthorized): the token or "
            "client certificate is not valid for this cluster, or has expired."
        )
    if isinstance(error, kube.Forbidden):
        return f"{where} refused to answer this identity (403 Forbidden): {error}"
    return f"{where} answered with an error: {error}"
