from django.db import models


class Severity(models.TextChoices):
    """Mirrors drift.engine.severity.LEVELS (a test keeps them equal)."""

    INFO = "info", "Info"
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"
    CRITICAL = "critical", "Critical"


class FindingType(models.TextChoices):
    MODIFIED = "modified", "Modified"
    MISSING = "missing", "Missing (in Git, not live)"
    UNMANAGED = "unmanaged", "Unmanaged (live, not in Git)"
    ALIGNMENT = "alignment", "Alignment violation"


class FindingStatus(models.TextChoices):
    OPEN = "open", "Open"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    SUPPRESSED = "suppressed", "Suppressed"
    RESOLVED = "resolved", "Resolved"


class ScanStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class ScanTrigger(models.TextChoices):
    SCHEDULE = "schedule", "Schedule"
    MANUAL = "manual", "Manual"
    API = "api", "API"
    GIT_PUSH = "git-push", "Git push"
    WATCH = "watch", "Watch event"


class PolicyMode(models.TextChoices):
    DETECT_ONLY = "detect-only", "Detect only"
    ENFORCE = "enforce", "Enforce"


class RemediationStrategy(models.TextChoices):
    SYNC = "sync", "Sync from Git"
    ROLLBACK = "rollback", "Roll back to last known-good"
    ALERT = "alert", "Alert only"


class AutoRemediation(models.TextChoices):
    NONE = "none", "Never"
    INFO = "info", "Up to info"
    LOW = "low", "Up to low"
    MEDIUM = "medium", "Up to medium"
    HIGH = "high", "Up to high"
    CRITICAL = "critical", "Up to critical"


class UndeclaredFields(models.TextChoices):
    IGNORE = "ignore", "Ignore"
    REPORT = "report", "Report"
