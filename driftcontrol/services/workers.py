from __future__ import annotations

from django.utils import timezone

from driftcontrol.models import WorkerHeartbeat


def record_heartbeat(hostname: str, queues: list[str]) -> WorkerHeartbeat:
    beat, _ = WorkerHeartbeat.objects.update_or_create(
        hostname=hostname, defaults={"last_seen": timezone.now(), "queues": queues}
    )
    return beat
