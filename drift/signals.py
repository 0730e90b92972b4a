"""Signals other apps listen to, so that drift does not depend on them."""

from django.dispatch import Signal

# Sent after the transaction that opened findings commits: policy_id, cluster_id,
# finding_ids. Remediation listens (auto-remediation).
findings_opened = Signal()
