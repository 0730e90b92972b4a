from driftcontrol.models.audit import AuditChainHead, AuditEvent
from driftcontrol.models.outbox import OutboxEvent
from driftcontrol.models.system import WorkerHeartbeat

__all__ = ["AuditChainHead", "AuditEvent", "OutboxEvent", "WorkerHeartbeat"]
