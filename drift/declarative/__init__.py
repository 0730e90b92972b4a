"""Declarative configuration: driftcontrol.io/v1alpha1 documents.

`drift apply -f` and the API's configuration endpoints send Lane, GitSource, Cluster and
DriftPolicy documents through `plan` (every problem of the batch, each with its
`documents[i].field.path`, raised as `InvalidDocuments`) and `apply` (all or nothing,
audited; the same documents again change nothing). `export` writes the configuration back
as documents, without credentials or secrets; `reports` writes a scan's result as a
DriftReport document.

Callers use what this module names. The rest is its inside: `reading` (the Reader every
kind's reader uses), a reader per kind (`lane`, `git_source`, `cluster`, `drift_policy`),
`planning` and `applying`.
"""

from drift.declarative import export, reports
from drift.declarative.applying import Applied, apply
from drift.declarative.planning import InvalidDocuments, plan
from drift.declarative.reading import API_VERSION, KINDS, Planned

__all__ = [
    "API_VERSION",
    "KINDS",
    "Applied",
    "InvalidDocuments",
    "Planned",
    "apply",
    "export",
    "plan",
    "reports",
]
