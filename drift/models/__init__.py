from drift.models.choices import (
    FindingStatus,
    FindingType,
    PolicyMode,
    RemediationStrategy,
    ScanStatus,
    ScanTrigger,
    Severity,
    UndeclaredFields,
)
from drift.models.clusters import Cluster, Lane
from drift.models.findings import OWNING_NAMESPACE, Finding
from drift.models.policies import DriftPolicy
from drift.models.rollups import DailyRollup, RollupScope
from drift.models.scans import Scan
from drift.models.sightings import ScopeSighting
from drift.models.snapshots import ObjectSnapshot, SnapshotReason
from drift.models.sources import GitSource
from drift.models.summaries import StoredSummary

__all__ = [
    "OWNING_NAMESPACE",
    "Cluster",
    "DailyRollup",
    "DriftPolicy",
    "Finding",
    "FindingStatus",
    "FindingType",
    "GitSource",
    "Lane",
    "ObjectSnapshot",
    "PolicyMode",
    "RemediationStrategy",
    "RollupScope",
    "Scan",
    "ScopeSighting",
    "ScanStatus",
    "ScanTrigger",
    "Severity",
    "StoredSummary",
    "SnapshotReason",
    "UndeclaredFields",
]
