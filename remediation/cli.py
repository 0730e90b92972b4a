"""`manage.py drift remediate|approve|reject|cancel|requests|request|pins|unpin|preview-enforce`."""

from __future__ import annotations

import json
from argparse import ArgumentParser, Namespace
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError

from drift.engine.severity import LEVELS
from drift.models import DriftPolicy, Finding, RemediationStrategy
from driftcontrol.cli.base import Command, Console
from remediation import services
from remediation.models import ObjectPin, RemediationRequest, RequestStatus


def _user(name: str) -> Any:
    user = get_user_model().objects.filter(username=name).first()
    if user is None:
        raise CommandError(f"no user named {name!r} (--as names the person acting)")
    return user


def _as(parser: ArgumentParser) -> None:
    parser.add_argument(
        "--as",
        dest="actor",
        required=True,
        metavar="USER",
        help="the DriftControl user on whose behalf this is done",
    )


def _remediate_arguments(parser: ArgumentParser) -> None:
    parser.add_argument("--finding", type=int, action="append", required=True, metavar="ID")
    parser.add_argument("--strategy", choices=RemediationStrategy.values, required=True)
    parser.add_argument("--reason", default="")
    parser.add_argument("--revision", help="rollback: apply the manifests of this Git commit")
    parser.add_argument(
        "--undo", type=int, metavar="REQUEST", help="rollback: restore what this request changed"
    )
    _as(parser)


def remediate(options: Namespace, console: Console) -> int:
    user = _user(options.actor)
    findings = list(
        Finding.objects.select_related("cluster", "policy").filter(pk__in=options.finding)
    )
    missing = sorted(set(options.finding) - {f.pk for f in findings})
    if missing:
        raise CommandError(f"no finding {', '.join(map(str, missing))}")
    target = {"revision": options.revision} if options.revision else None
    undo = RemediationRequest.objects.filter(pk=options.undo).first() if options.undo else None
    if options.undo and undo is None:
        raise CommandError(f"no request #{options.undo}")
    request = services.request_remediation(
        findings, options.strategy, user, options.reason, target, rollback_of=undo
    )
    console.success(
        f"request #{request.pk}: {request.strategy} of {len(findings)} finding(s), "
        f"{request.get_status_display().lower()} "
        f"({request.approvals_required} approval(s) needed)"
    )
    _print_plan(request, console)
    return 0


def _decision_arguments(comment_required: bool) -> Any:
    def add(parser: ArgumentParser) -> None:
        parser.add_argument("request", type=int)
        _as(parser)
        parser.add_argument("--comment", default="", required=comment_required)

    return add


def approve(options: Namespace, console: Console) -> int:
    request = services.approve(options.request, _user(options.actor), options.comment)
    console.success(f"request #{request.pk} is {request.status}")
    return 0


def reject(options: Namespace, console: Console) -> int:
    request = services.reject(options.request, _user(options.actor), options.comment)
    console.success(f"request #{request.pk} is {request.status}")
    return 0


def cancel(options: Namespace, console: Console) -> int:
    request = services.cancel(options.request, _user(options.actor), options.comment)
    console.success(f"request #{request.pk} is {request.status}")
    return 0


def _document(request: RemediationRequest) -> dict[str, Any]:
    return {
        "id": request.pk,
        "strategy": request.strategy,
        "status": request.status,
        "statusReason": request.status_reason,
        "severity": request.severity,
        "trigger": request.trigger,
        "cluster": request.cluster.name,
        "policy": request.policy.name if request.policy else None,
        "requestedBy": request.requested_by.get_username() if request.requested_by else "system",
        "findings": [f.pk for f in request.findings.all()],
        "approvalsRequired": request.approvals_required,
        "approvals": [
            {
                "by": a.approver.get_username(),
                "decision": a.decision,
                "comment": a.comment,
                "planVersion": a.plan_version,
            }
            for a in request.approvals.all()
        ],
        "planVersion": request.plan_version,
        "plan": request.plan,
        "createdAt": request.created_at.isoformat(),
        "expiresAt": request.expires_at.isoformat(),
        "steps": [
            {
                "position": s.position,
                "action": s.action,
                "kind": s.kind,
                "namespace": s.namespace,
                "name": s.name,
                "status": s.status,
                "changes": s.changes,
                "takeovers": s.takeovers,
                "result": s.result,
            }
            for s in request.steps.all()
        ],
        "result": request.result,
    }


def _requests_arguments(parser: ArgumentParser) -> None:
    parser.add_argument("--pending", action="store_true", help="only those awaiting approval")
    parser.add_argument("--output", choices=["json", "table"], default="table")


def list_requests(options: Namespace, console: Console) -> int:
    rows = (
        RemediationRequest.objects.select_related("cluster", "policy", "requested_by")
        .prefetch_related("findings", "approvals__approver", "steps")
        .order_by("-created_at")
    )
    if options.pending:
        rows = rows.filter(status=RequestStatus.PENDING)
    documents = [_document(r) for r in rows[:1000]]
    if options.output == "json":
        console.print(json.dumps(documents, indent=2))
        return 0
    console.print(
        f"{'ID':>5}  {'STATUS':<11} {'STRATEGY':<9} {'SEVERITY':<9} {'CLUSTER':<14} "
        f"{'APPROVALS':<10} FINDINGS"
    )
    for d in documents:
        given = sum(
            a["decision"] == "approve" and a["planVersion"] == d["planVersion"]
            for a in d["approvals"]
        )
        console.print(
            f"{d['id']:>5}  {d['status']:<11} {d['strategy']:<9} {d['severity']:<9} "
            f"{d['cluster']:<14} {given}/{d['approvalsRequired']:<8} "
            f"{','.join(map(str, d['findings']))}"
        )
    return 0


def show(options: Namespace, console: Console) -> int:
    request = RemediationRequest.objects.filter(pk=options.request).first()
    if request is None:
        raise CommandError(f"no request #{options.request}")
    console.print(json.dumps(_document(request), indent=2))
    return 0


def _print_plan(request: RemediationRequest, console: Console) -> None:
    for step in request.steps.all():
        where = f"{step.namespace}/{step.name}" if step.namespace else step.name
        console.print(
            f"  {step.position + 1}. {step.action} {step.kind} {where}"
            + (f" ({step.result.get('skipped')})" if step.result.get("skipped") else "")
        )
        for change in step.changes[:20]:
            console.print(f"       {change['path']}: {change['live']!r} -> {change['planned']!r}")
        for takeover in step.takeovers:
            console.print(f"       takes {takeover['field']} from {takeover['from']}")


def list_pins(options: Namespace, console: Console) -> int:
    for pin in ObjectPin.objects.active().select_related("cluster"):
        where = f"{pin.namespace}/{pin.name}" if pin.namespace else pin.name
        console.print(f"{pin.pk:>5}  {pin.cluster.name:<14} {pin.kind} {where}: {pin.reason}")
    return 0


def unpin(options: Namespace, console: Console) -> int:
    pin = services.unpin(options.pin, _user(options.actor), options.reason)
    console.success(
        f"pin #{pin.pk} released: auto-remediation may touch {pin.kind} {pin.name} again"
    )
    return 0


def preview_enforce(options: Namespace, console: Console) -> int:
    policy = DriftPolicy.objects.filter(name=options.policy).first()
    if policy is None:
        raise CommandError(f"no policy named {options.policy!r}")
    result = services.preview(policy, options.up_to, options.days)
    if options.output == "json":
        console.print(json.dumps(result, indent=2))
        return 0
    console.print(
        f"enforcing {policy.name} up to {options.up_to} would have remediated "
        f"{result['count']} finding(s) in the last {options.days} days"
    )
    for f in result["findings"]:
        console.print(
            f"  #{f['id']} {f['severity']:<8} {f['type']:<9} {f['cluster']} "
            f"{f['kind']} {f['namespace']}/{f['name']} ({f['firstSeen'][:16]})"
        )
    return 0


def _preview_arguments(parser: ArgumentParser) -> None:
    parser.add_argument("policy")
    parser.add_argument("--up-to", choices=LEVELS, default="low")
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--output", choices=["json", "table"], default="table")


COMMANDS = [
    Command(
        "remediate",
        "request a sync, rollback or alert for open findings",
        remediate,
        _remediate_arguments,
    ),
    Command("approve", "approve a remediation request", approve, _decision_arguments(False)),
    Command("reject", "reject a remediation request (says why)", reject, _decision_arguments(True)),
    Command("cancel", "cancel a remediation request", cancel, _decision_arguments(False)),
    Command("requests", "list remediation requests", list_requests, _requests_arguments),
    Command(
        "request",
        "show one request with its plan",
        show,
        lambda p: p.add_argument("request", type=int),
    ),
    Command("pins", "list objects auto-remediation leaves alone", list_pins),
    Command(
        "unpin",
        "let auto-remediation touch a pinned object again",
        unpin,
        lambda p: (
            p.add_argument("pin", type=int),
            _as(p),
            p.add_argument("--reason", default="unpinned"),
        ),
    ),
    Command(
        "preview-enforce",
        "what enforcing a policy would have remediated, from the ledger",
        preview_enforce,
        _preview_arguments,
    ),
]
