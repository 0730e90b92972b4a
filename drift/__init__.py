"""Drift: clusters, lanes, Git sources, policies, scans and the findings ledger."""
