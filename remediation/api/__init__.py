"""REST resources of remediation: requests with their plans, decisions and approvals."""
