from driftcontrol.models.api import IdempotencyRecord
from driftcontrol.models.audit import AuditChainHead, AuditEvent
from driftcontrol.models.outbox import OutboxEvent
from driftcontrol.models.preferences import Preferences
from driftcontrol.models.system import WorkerHeartbeat
from driftcontrol.models.tokens import ApiToken, TokenScope
from driftcontrol.models.webhooks import DeliveryStatus, WebhookDelivery, WebhookSubscription

__all__ = [
    "ApiToken",
    "AuditChainHead",
    "AuditEvent",
    "DeliveryStatus",
    "IdempotencyRecord",
    "OutboxEvent",
    "Preferences",
    "TokenScope",
    "WebhookDelivery",
    "WebhookSubscription",
    "WorkerHeartbeat",
]
