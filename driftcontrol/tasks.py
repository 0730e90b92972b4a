from __future__ import annotations

from typing import Any

from celery import shared_task

from driftcontrol.services.workers import record_heartbeat


@shared_task(name="system.heartbeat", bind=True, ignore_result=False)
def heartbeat(self: Any) -> dict[str, Any]:
    """Prove a worker consumes the default queue; the system page shows the last one."""
    queue = (self.request.delivery_info or {}).get("routing_key") or "default"
    beat = record_heartbeat(self.request.hostname or "unknown", [queue])
    return {"hostname": beat.hostname, "last_seen": beat.last_seen.isoformat()}
