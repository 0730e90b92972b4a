import pytest

from driftcontrol.models import WorkerHeartbeat
from driftcontrol.tasks import heartbeat

pytestmark = [pytest.mark.celery, pytest.mark.django_db(transaction=True)]


def test_a_task_goes_through_redis_to_a_real_worker_and_back(celery_worker):
    result = heartbeat.delay()

    answer = result.get(timeout=30)

    assert answer["hostname"].startswith("test-")
    # The worker process wrote to the test database through its own connection.
    beat = WorkerHeartbeat.objects.get(hostname=answer["hostname"])
    assert beat.queues == ["default"]


def test_tasks_are_routed_to_their_area_queue():
    from driftcontrol.celery import route_task

    assert route_task("scans.run", (), {}, {}) == {"queue": "scans"}
    assert route_task("remediation.execute", (), {}, {}) == {"queue": "remediation"}
    assert route_task("system.heartbeat", (), {}, {}) == {"queue": "default"}
