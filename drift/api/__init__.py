"""REST resources of drift detection: configuration, scans, findings, summaries."""
