"""Remediation: requests, approvals, strategies (sync, rollback, alert) and execution."""
