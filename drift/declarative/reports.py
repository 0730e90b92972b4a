"""DriftReport documents: the result of a scan of one policy on one cluster."""

from __future__ import annotations

from collections import Counter
from typing import Any

from drift.declarative.reading import API_VERSION
from drift.models import Finding, Scan, ScanStatus


def phase(scan: Scan) -> str:
    if scan.status == ScanStatus.FAILED:
        return "Failed"
    if scan.status != ScanStatus.SUCCEEDED:
        return "Running" if scan.status == ScanStatus.RUNNING else "Pending"
    return "Partial" if scan.partial else "Complete"


def finding_document(finding: Finding) -> dict[str, Any]:
    alignment = {"rule": finding.rule, "message": finding.diff.get("message", "")}
    return {
        "id": finding.pk,
        "type": finding.type,
        "severity": finding.severity,
        "status": finding.status,
        "apiVersion": finding.api_version,
        "kind": finding.kind,
        "namespace": finding.namespace,
        "name": finding.name,
        "paths": finding.diff.get("paths", []),
        "patch": finding.diff.get("patch", []),
        "attribution": finding.attribution,
        "source": finding.source,
        "firstSeen": finding.first_seen.isoformat(),
        "lastSeen": finding.last_seen.isoformat(),
        "occurrences": finding.occurrences,
        **(alignment if finding.rule else {}),
    }


def drift_report(scan: Scan) -> dict[str, Any]:
    """The scan and the open findings of its policy on its cluster, as a document."""
    findings = list(
        Finding.objects.open()
        .filter(policy=scan.policy, cluster=scan.cluster)
        .order_by("kind", "namespace", "name", "type")
    )
    by_severity = Counter(f.severity for f in findings)
    by_type = Counter(f.type for f in findings)
    status: dict[str, Any] = {
        "phase": phase(scan),
        "reason": scan.error or scan.partial_reason,
        "problems": scan.problems,
        "objects": {"desired": scan.objects_desired, "live": scan.objects_live},
        "summary": {
            "total": len(findings),
            "bySeverity": dict(sorted(by_severity.items())),
            "byType": dict(sorted(by_type.items())),
        },
        "findings": [finding_document(f) for f in findings],
    }
    return {
        "apiVersion": API_VERSION,
        "kind": "DriftReport",
        "metadata": {
            "name": f"{scan.policy.name}-{scan.cluster.name}-{scan.pk}",
            "creationTimestamp": scan.created_at.isoformat(),
        },
        "spec": {
            "policy": scan.policy.name,
            "cluster": scan.cluster.name,
            "revision": scan.revision,
            "scan": scan.pk,
        },
        "status": status,
    }
