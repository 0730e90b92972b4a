"""The webhook's recorder (alignment.admission.recorder): decisions kept off the hot path,
in batches: warn, deny and break-glass rows, per-minute tallies of all of them (allows
and dry runs counted), the heartbeat, denied events, and images queued for verification
once; a database or broker that does not answer loses nothing it can keep."""

from __future__ import annotations

import copy
import threading
import time
import uuid
from typing import Any
from unittest import mock

import pytest
from django.db import IntegrityError, OperationalError, connection
from kombu.exceptions import OperationalError as BrokerError

from alignment.admission import events, latency, recording
from alignment.admission import recorder as recorder_module
from alignment.admission.decide import Decision, decide
from alignment.admission.recorder import VERIFY_TASK, Recorder, Verifications
from alignment.admission.review import Request, parse
from alignment.admission.world import build
from alignment.models import AdmissionDecision, AdmissionServer, AdmissionTally
from driftcontrol.models import OutboxEvent
from tests.alignment.admission.test_decide import (
    ARGO,
    DEPLOYER,
    OUTSIDER,
    REVISION,
    SIGNERS,
    set_image,
)
from tests.factories import ClusterFactory, DriftPolicyFactory, LaneFactory, ManagedObjectFactory

pytestmark = pytest.mark.django_db

PINNED = "registry.example.com/shop/web@sha256:" + "7e" * 32


@pytest.fixture
def prod():
    controlled = LaneFactory(
        name="controlled",
        namespaces=["shop"],
        identities=[DEPLOYER],
        registries=["registry.example.com/shop/"],
        supply={"signers": SIGNERS},
        admission={"mode": "deny", "breakGlassGroups": ["sre-oncall"]},
    )
    cluster = ClusterFactory(name="prod")
    cluster.lanes.add(controlled)
    policy = DriftPolicyFactory(cluster_names=["prod"])
    ManagedObjectFactory(
        policy=policy,
        cluster=cluster,
        revision=REVISION,
    )
    return cluster


def fresh(body: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """The review with a uid of its own (each request the API server sends has one)."""
    body = copy.deepcopy(body)
    body["request"]["uid"] = str(uuid.uuid4())
    body["request"].update(changes)
    return body


def submit(recorder: Recorder, cluster, body: dict[str, Any], latency_ms: float = 1.5) -> None:
    request = parse(body)
    recorder.submit(cluster.name, request, decide(request, build(cluster)), latency_ms)


@pytest.fixture
def recorder():
    found = Recorder("127.0.0.1:9443", heartbeat_seconds=60)
    found.verifications = Verifications(send=mock.Mock())
    found._register()  # what start() does, without the threads
    return found


def tallies() -> dict[tuple[str, str], tuple[int, int]]:
    """(lane, outcome) -> (count, dry runs), over every minute."""
    found: dict[tuple[str, str], tuple[int, int]] = {}
    rows = AdmissionTally.objects.values_list("lane", "outcome", "count", "dry_runs")
    for lane, outcome, count, dry in rows:
        before = found.get((lane, outcome), (0, 0))
        found[lane, outcome] = (before[0] + count, before[1] + dry)
    return found


def test_submitting_touches_no_database(recorder, prod, django_assert_num_queries) -> None:
    request = parse(fresh(set_image(OUTSIDER)))
    decision = decide(request, build(prod))

    with django_assert_num_queries(0):
        recorder.submit("prod", request, decision, 1.0)


def test_a_flush_keeps_warns_denies_and_break_glass_and_counts_every_decision(
    recorder, prod
) -> None:
    server = AdmissionServer.objects.get(pk=recorder.server_id)
    submit(recorder, prod, fresh(set_image(ARGO, image=PINNED)), 0.4)  # allowed
    submit(recorder, prod, fresh(set_image(ARGO, image=PINNED)), 3.0)
    submit(recorder, prod, fresh(set_image(OUTSIDER)), 7.0)  # denied

    recorder.flush()

    row = AdmissionDecision.objects.get()
    assert (row.cluster, row.lane, row.outcome, row.rules) == (
        prod,
        "controlled",
        "deny",
        ["lane.deployer"],
    )
    assert (row.user, row.operation, row.api_group, row.kind, row.namespace, row.name) == (
        "alice",
        "UPDATE",
        "apps",
        "Deployment",
        "shop",
        "web",
    )
    assert (row.latency_ms, row.dry_run) == (7.0, False)
    assert tallies() == {("controlled", "allow"): (2, 0), ("controlled", "deny"): (1, 0)}
    allowed = AdmissionTally.objects.get(outcome="allow")
    assert allowed.latency_sum_ms == pytest.approx(3.4)
    assert allowed.latency_buckets == [1, 0, 0, 1] + [0] * (latency.BUCKETS - 4)
    assert allowed.minute.second == allowed.minute.microsecond == 0
    assert AdmissionServer.objects.get(pk=server.pk).seen_at > server.seen_at


def test_a_deny_is_announced_with_the_events_payload(recorder, prod) -> None:
    submit(recorder, prod, fresh(set_image(OUTSIDER)))

    recorder.flush()

    event = OutboxEvent.objects.get(event_type=events.DENIED)
    row = AdmissionDecision.objects.get()
    assert event.payload == events.payload(row)
    assert (event.payload["cluster"], event.payload["rules"]) == ("prod", ["lane.deployer"])


def test_a_review_the_api_server_sent_twice_is_kept_once(recorder, prod) -> None:
    body = fresh(set_image(OUTSIDER))
    submit(recorder, prod, body)
    submit(recorder, prod, body)
    recorder.flush()
    submit(recorder, prod, body)
    recorder.flush()

    assert AdmissionDecision.objects.count() == 1
    assert OutboxEvent.objects.filter(event_type=events.DENIED).count() == 1
    assert tallies() == {("controlled", "deny"): (3, 0)}  # each answer was given


def test_a_dry_run_is_counted_and_nothing_else(recorder, prod) -> None:
    submit(recorder, prod, fresh(set_image(OUTSIDER), dryRun=True))
    submit(recorder, prod, fresh(set_image(ARGO, image=PINNED), dryRun=True))

    recorder.flush()

    assert tallies() == {("controlled", "deny"): (1, 1), ("controlled", "allow"): (1, 1)}
    assert not AdmissionDecision.objects.exists()
    assert not OutboxEvent.objects.exists()
    assert recorder.verifications.send_pending() == 0


def test_decisions_on_a_cluster_nobody_registered_are_left_out(recorder, prod) -> None:
    request = parse(fresh(set_image(OUTSIDER)))
    recorder.submit("nowhere", request, decide(request, build(prod)), 1.0)
    submit(recorder, prod, fresh(set_image(OUTSIDER)))

    recorder.flush()

    assert set(AdmissionDecision.objects.values_list("cluster__name", flat=True)) == {"prod"}
    assert tallies() == {("controlled", "deny"): (1, 0)}


def test_an_unverified_image_is_sent_for_verification_once_in_the_recheck_window(
    recorder, prod, settings
) -> None:
    settings.SUPPLY_RECHECK_SECONDS = 600
    send = recorder.verifications._send
    for _ in range(3):
        submit(recorder, prod, fresh(set_image(ARGO, image=PINNED)))
    recorder.flush()
    assert recorder.verifications.send_pending() == 1
    send.assert_called_once_with(VERIFY_TASK, prod.pk, "controlled", [PINNED])

    submit(recorder, prod, fresh(set_image(ARGO, image=PINNED)))
    recorder.flush()
    assert recorder.verifications.send_pending() == 0

    settings.SUPPLY_RECHECK_SECONDS = 0  # the window is over: asked again
    submit(recorder, prod, fresh(set_image(ARGO, image=PINNED)))
    recorder.flush()
    assert recorder.verifications.send_pending() == 1


def test_a_broker_that_does_not_answer_breaks_no_recording(recorder, prod, caplog) -> None:
    recorder.verifications._send.side_effect = BrokerError("connection refused")
    submit(recorder, prod, fresh(set_image(ARGO, image=PINNED)))
    submit(recorder, prod, fresh(set_image(OUTSIDER)))

    recorder.flush()

    assert recorder.verifications.send_pending() == 0
    assert "the broker did not take admission.verify_images (connection refused)" in caplog.text
    assert AdmissionDecision.objects.count() == 1
    assert sum(count for count, _ in tallies().values()) == 2


def test_a_database_that_does_not_answer_keeps_the_batch_for_the_next_flush(
    recorder, prod, caplog
) -> None:
    submit(recorder, prod, fresh(set_image(OUTSIDER)))
    real = recording.write
    with mock.patch.object(recording, "write", side_effect=OperationalError("gone")):
        recorder.flush()
    assert "recording failed (gone); 1 decision(s) held" in caplog.text
    assert not AdmissionDecision.objects.exists()

    submit(recorder, prod, fresh(set_image(OUTSIDER)))
    with mock.patch.object(recording, "write", side_effect=real):
        recorder.flush()

    assert AdmissionDecision.objects.count() == 2
    assert tallies() == {("controlled", "deny"): (2, 0)}


def test_a_full_queue_drops_decisions_and_counts_them(prod, monkeypatch) -> None:
    monkeypatch.setattr(recorder_module, "QUEUE_LIMIT", 3)
    small = Recorder("127.0.0.1:9443")

    for _ in range(5):
        submit(small, prod, fresh(set_image(OUTSIDER)))
    small.flush()

    assert small.dropped == 2
    assert AdmissionDecision.objects.count() == 3


def test_held_decisions_are_bounded_while_the_database_is_down(recorder, prod, monkeypatch):
    monkeypatch.setattr(recorder_module, "KEPT_LIMIT", 2)
    with mock.patch.object(recording, "write", side_effect=OperationalError("gone")):
        for _ in range(3):
            submit(recorder, prod, fresh(set_image(OUTSIDER)))
            recorder.flush()

    recorder.flush()

    assert recorder.dropped == 1
    assert AdmissionDecision.objects.count() == 2
    assert tallies() == {("controlled", "deny"): (3, 0)}  # every one is still counted


def test_stopping_flushes_and_says_the_run_stopped(prod) -> None:
    running = Recorder("127.0.0.1:9443", heartbeat_seconds=60)
    running._register()
    submit(running, prod, fresh(set_image(OUTSIDER)))

    running.stop()

    assert AdmissionDecision.objects.count() == 1
    assert AdmissionServer.objects.get().stopped_at is not None


@pytest.mark.django_db(transaction=True)
def test_two_servers_adding_to_the_same_tallies_at_once_lose_no_count(prod) -> None:
    per_server = 200
    world = build(prod)

    def reviews() -> list[tuple[Request, Decision]]:
        return [
            (request, decide(request, world))
            for body in (set_image(ARGO, image=PINNED), set_image(OUTSIDER))
            for request in [parse(fresh(body)) for _ in range(per_server)]
        ]

    decided = reviews()
    first = Recorder("127.0.0.1:9443", heartbeat_seconds=60)
    for request, decision in (decided[0], decided[-1]):  # an allow and a deny: rows exist
        first.submit("prod", request, decision, 2.0)
    first.flush()
    start = threading.Barrier(2)
    failures: list[BaseException] = []
    added = recording._added

    def slowly_added(held: list[int] | None, more: list[int]) -> list[int]:
        time.sleep(0.2)  # between reading a row and writing it: where a lost update hides
        return added(held, more)

    def serve(decided: list[tuple[Request, Decision]]) -> None:
        try:
            server = Recorder("127.0.0.1:9443", heartbeat_seconds=60)
            server.verifications = Verifications(send=mock.Mock())
            for request, decision in decided:
                server.submit("prod", request, decision, 2.0)
            start.wait()
            server.flush()
        except BaseException as error:  # shown by the assertion below
            failures.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=serve, args=(reviews(),)) for _ in range(2)]
    with mock.patch.object(recording, "_added", side_effect=slowly_added):
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)

    assert failures == []
    assert tallies() == {
        ("controlled", "allow"): (2 * per_server + 1, 0),
        ("controlled", "deny"): (2 * per_server + 1, 0),
    }
    buckets = [row.latency_buckets for row in AdmissionTally.objects.filter(outcome="deny")]
    assert sum(found[latency.bucket(2.0)] for found in buckets) == 2 * per_server + 1
    assert AdmissionDecision.objects.count() == 2 * per_server + 1


@pytest.mark.django_db(transaction=True)
def test_the_thread_writes_every_heartbeat_and_says_once_a_minute_what_it_dropped(
    prod, monkeypatch, caplog
) -> None:
    monkeypatch.setattr(recorder_module, "QUEUE_LIMIT", 2)
    running = Recorder("127.0.0.1:9443", heartbeat_seconds=0.05)
    running.verifications = Verifications(send=mock.Mock())
    world = build(prod)
    for _ in range(4):  # nobody takes them yet: two are dropped
        request = parse(fresh(set_image(OUTSIDER)))
        running.submit("prod", request, decide(request, world), 1.0)

    running.start()
    try:
        deadline = time.monotonic() + 10
        while AdmissionDecision.objects.count() < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.3)  # a few heartbeats more
    finally:
        running.stop()

    assert AdmissionDecision.objects.count() == 2
    server = AdmissionServer.objects.get()
    assert server.stopped_at is not None and server.seen_at >= server.stopped_at
    assert caplog.text.count("2 decision(s) not recorded in all") == 1


def test_a_batch_the_database_refuses_again_and_again_is_dropped_not_held(
    recorder, prod, caplog
) -> None:
    submit(recorder, prod, fresh(set_image(OUTSIDER)))
    refused = IntegrityError("violates a constraint")
    with mock.patch.object(recording, "write", side_effect=refused):
        for _ in range(recorder_module.REFUSED_LIMIT):
            recorder.flush()

    assert recorder.dropped == 1
    assert "a batch of 1 decision(s) to keep could not be recorded; dropped" in caplog.text
    submit(recorder, prod, fresh(set_image(OUTSIDER)))
    recorder.flush()
    assert AdmissionDecision.objects.count() == 1
