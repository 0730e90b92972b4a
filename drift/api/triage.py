"""What the triage actions of /api/v1/findings/ take, and their bulk forms:
`bulk-acknowledge/`, `bulk-suppress/` and `bulk-ticket/` apply the single-item action to
each of up to 500 findings, each in its own transaction through drift.services.triage
(same permission, same audit event per finding), and answer 200 with one result per id.

Repeating a bulk call is safe: a finding already as asked is "unchanged", nothing is
written or audited for it. An id given twice counts once (results keep the first
position).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from drift.services import triage
from driftcontrol.api.bounds import id_field, text_field
from driftcontrol.api.errors import exception_handler
from driftcontrol.api.idempotency import idempotent
from driftcontrol.exceptions import DomainError, InvalidTransition, NotFound

MAX_BULK = 500
APPLIED, UNCHANGED, ERROR = "applied", "unchanged", "error"


class AcknowledgeSerializer(serializers.Serializer):  # type: ignore[type-arg]
    comment = text_field(required=False, allow_blank=True, default="")


class SuppressSerializer(serializers.Serializer):  # type: ignore[type-arg]
    exactly_one_of = ("until", "days")  # the schema says so (driftcontrol.api.schema)
    reason = text_field(help_text="why this drift is accepted for now")
    until = serializers.DateTimeField(required=False, help_text="when it opens again")
    days = serializers.IntegerField(
        required=False, min_value=1, max_value=triage.MAX_SUPPRESSION.days, help_text="or: for"
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("until" in attrs) == ("days" in attrs):
            raise serializers.ValidationError({"until": ["give either until or days"]})
        if "days" in attrs:
            attrs["until"] = timezone.now() + timedelta(days=attrs.pop("days"))
        return attrs


class TicketSerializer(serializers.Serializer):  # type: ignore[type-arg]
    ticket_id = serializers.CharField(max_length=200, help_text="e.g. OPS-123")
    url = serializers.URLField(max_length=500, required=False, allow_blank=True, default="")


def _ids() -> serializers.ListField:
    return serializers.ListField(
        child=id_field(),
        min_length=1,
        max_length=MAX_BULK,
        help_text=f"the findings, 1 to {MAX_BULK} ids; an id given twice counts once",
    )


class BulkAcknowledgeSerializer(AcknowledgeSerializer):
    ids = _ids()


class BulkSuppressSerializer(SuppressSerializer):
    ids = _ids()


class BulkTicketSerializer(TicketSerializer):
    ids = _ids()


class TriageErrorSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """Why one finding of a bulk call was not changed, as the single-item call answers."""

    type = serializers.CharField(help_text="not-found, invalid-transition, permission-denied")
    title = serializers.CharField()
    status = serializers.IntegerField(help_text="the status the single-item call answers")
    detail = serializers.CharField()


def bulk_response(finding_serializer: type[Any]) -> type[Any]:
    """The response of a bulk triage call, around the finding's own serializer."""

    class BulkItemSerializer(serializers.Serializer):  # type: ignore[type-arg]
        id = serializers.IntegerField()
        outcome = serializers.ChoiceField(choices=[APPLIED, UNCHANGED, ERROR])
        finding = finding_serializer(allow_null=True, help_text="as it is now; null on error")
        error = TriageErrorSerializer(allow_null=True, help_text="null unless outcome is error")

    class BulkSummarySerializer(serializers.Serializer):  # type: ignore[type-arg]
        applied = serializers.IntegerField()
        unchanged = serializers.IntegerField()
        error = serializers.IntegerField()

    class BulkTriageResultSerializer(serializers.Serializer):  # type: ignore[type-arg]
        results = BulkItemSerializer(many=True, help_text="one per distinct id, in given order")
        summary = BulkSummarySerializer()

    return BulkTriageResultSerializer


def _outcome(outcome: triage.Outcome, finding_id: int) -> str:
    """A single-item outcome of drift.services.triage as a bulk result (or its refusal)."""
    if any(f.pk == finding_id for f in outcome.changed):
        return APPLIED
    if any(f.pk == finding_id for f in outcome.unchanged):
        return UNCHANGED
    if finding_id in outcome.skipped:
        raise InvalidTransition(f"finding #{finding_id} {outcome.skipped[finding_id]}")
    raise NotFound(f"no finding #{finding_id}")


_DOC = (
    "Applies the single-item action to each finding in `ids` (1 to 500; an id given twice "
    "counts once), each in its own transaction with its own audit event, and answers 200 "
    "with one result per id: `applied`, `unchanged` (already so: nothing written, so a "
    "repeated call is safe) or `error` with the problem the single-item call would answer "
    "(`not-found` 404, `invalid-transition` 409). Send an `Idempotency-Key` to make a "
    "retry return the first answer."
)


class BulkTriageMixin:
    """The bulk triage actions of the findings viewset (its ``bulk_finding_serializer``
    renders each finding in the results)."""

    bulk_finding_serializer: type[Any]
    get_queryset: Callable[[], Any]

    @idempotent
    @action(detail=False, methods=["post"], url_path="bulk-acknowledge")
    def bulk_acknowledge(self, request: Request) -> Response:
        """Acknowledge many findings; see `acknowledge/`."""
        data = _valid(BulkAcknowledgeSerializer, request)
        comment = data["comment"]
        return self._each(
            request,
            data["ids"],
            lambda pk: _outcome(triage.acknowledge([pk], request.user, comment), pk),
        )

    @idempotent
    @action(detail=False, methods=["post"], url_path="bulk-suppress")
    def bulk_suppress(self, request: Request) -> Response:
        """Suppress many findings until one time; see `suppress/`."""
        data = _valid(BulkSuppressSerializer, request)
        reason, until = data["reason"], data["until"]
        triage.check_suppression(reason, until)  # a bad end refuses the call, not each item
        return self._each(
            request,
            data["ids"],
            lambda pk: _outcome(triage.suppress([pk], request.user, reason, until), pk),
        )

    @idempotent
    @action(detail=False, methods=["post"], url_path="bulk-ticket")
    def bulk_ticket(self, request: Request) -> Response:
        """Link one external ticket to many findings; see `ticket/`."""
        data = _valid(BulkTicketSerializer, request)
        ticket_id, url = data["ticket_id"], data["url"]

        def link(pk: int) -> str:
            changed = triage.set_ticket(pk, request.user, ticket_id, url)[1]
            return APPLIED if changed else UNCHANGED

        return self._each(request, data["ids"], link)

    def _each(self, request: Request, ids: list[int], apply: Callable[[int], str]) -> Response:
        results: list[dict[str, Any]] = []
        for finding_id in dict.fromkeys(ids):  # in given order, once each
            item: dict[str, Any] = {"id": finding_id, "finding": None, "error": None}
            try:
                item["outcome"] = apply(finding_id)
            except DomainError as refused:
                item["outcome"] = ERROR
                answer = exception_handler(refused, {"view": self, "request": request})
                item["error"] = {k: answer.data[k] for k in ("type", "title", "status", "detail")}
            results.append(item)
        found = self.get_queryset().in_bulk([r["id"] for r in results if r["outcome"] != ERROR])
        for item in results:
            if item["id"] in found:
                item["finding"] = self.bulk_finding_serializer(found[item["id"]]).data
        summary = dict.fromkeys((APPLIED, UNCHANGED, ERROR), 0)
        for item in results:
            summary[item["outcome"]] += 1
        return Response({"results": results, "summary": summary})


def _valid(serializer_class: type[Any], request: Request) -> Any:
    given = serializer_class(data=request.data)
    given.is_valid(raise_exception=True)
    return given.validated_data


def bulk_schemas(finding_serializer: type[Any]) -> dict[str, Any]:
    """extend_schema for each bulk action, for the viewset's extend_schema_view."""
    response = bulk_response(finding_serializer)
    common = {"responses": {200: response}, "tags": ["findings"], "description": _DOC}
    return {
        "bulk_acknowledge": extend_schema(
            summary="Acknowledge many findings",
            request=BulkAcknowledgeSerializer,
            **common,
        ),
        "bulk_suppress": extend_schema(
            summary="Suppress many findings", request=BulkSuppressSerializer, **common
        ),
        "bulk_ticket": extend_schema(
            summary="Link a ticket to many findings", request=BulkTicketSerializer, **common
        ),
    }
