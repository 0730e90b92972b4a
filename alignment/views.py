"""The API servers' audit feed endpoint: /hooks/audit/<cluster>.

kube-apiserver's audit webhook backend posts `audit.k8s.io/v1` EventLists here, with
the bearer token its webhook kubeconfig carries. The body is bounded before it is read
(it is read before the sender is known), every refusal of the sender is the same 401,
and a redelivered batch is harmless (each event is kept once, by audit ID).
"""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from alignment import audit_feed
from driftcontrol.api.errors import problem_body, too_large
from driftcontrol.exceptions import NotAllowed

EVENT_LIST_EXAMPLE = {
    "kind": "EventList",
    "apiVersion": "audit.k8s.io/v1",
    "items": [
        {
            "level": "Metadata",
            "auditID": "6d1f7c8e-0b7e-4c53-9d55-1f5f3f1b2a77",
            "stage": "ResponseComplete",
            "requestURI": "/apis/apps/v1/namespaces/payments/deployments/api",
            "verb": "patch",
            "user": {"username": "alice", "groups": ["system:authenticated"]},
            "userAgent": "kubectl/v1.20.2 (linux/amd64) kubernetes/faecb19",
            "objectRef": {
                "resource": "deployments",
                "namespace": "payments",
                "name": "api",
                "apiGroup": "apps",
                "apiVersion": "v1",
            },
            "responseStatus": {"code": 200},
            "requestReceivedTimestamp": "2026-12-01T10:15:02.113022Z",
            "stageTimestamp": "2026-12-01T10:15:02.131470Z",
        }
    ],
}


class AuditFeedView(APIView):
    # The API server authenticates with the cluster's own token, not a user's.
    authentication_classes: list[type] = []
    permission_classes = [AllowAny]
    # Batches come as often as writes do; the body bound keeps each one cheap.
    throttle_classes: list[type] = []

    @extend_schema(
        operation_id="audit_feed_receive",
        tags=["audit feed"],
        summary="Receive a batch of a cluster's API server audit events",
        description=(
            "Point kube-apiserver's audit webhook backend here "
            "(`--audit-webhook-config-file`, a kubeconfig whose server is this URL and "
            "whose user token is the one `drift audit-feed CLUSTER` issued). Completed, "
            "successful writes to objects are kept once each (by `auditID`): who (the "
            "user, not just the field manager), the verb, the object and the time. Reads, "
            "failed requests, dry runs, status updates and the control plane's own "
            "bookkeeping are dropped. Attribution and the `lane.deployer` rule read them."
        ),
        request={"application/json": OpenApiTypes.OBJECT},
        examples=[OpenApiExample("A kubectl edit", EVENT_LIST_EXAMPLE, request_only=True)],
        responses={
            202: inline_serializer(
                "AuditBatchReceived",
                {
                    "received": serializers.IntegerField(help_text="events in the batch"),
                    "kept": serializers.IntegerField(help_text="new writes stored"),
                },
            ),
            400: OpenApiResponse(description="not an audit.k8s.io EventList; nothing kept"),
            401: OpenApiResponse(description="the token is missing or not this cluster's"),
            413: OpenApiResponse(description="the batch exceeds AUDIT_HOOK_BODY_MAX_BYTES"),
        },
    )
    def post(self, request: Request, cluster: str) -> Response:
        limit = settings.AUDIT_HOOK_BODY_MAX_BYTES
        declared = request.META.get("CONTENT_LENGTH") or "0"
        if not declared.isascii() or not declared.isdigit():
            return _refused(400, "the Content-Length header is not a number")
        if len(declared) > 18 or int(declared) > limit:
            return _refused(413, too_large(limit))
        try:
            found = audit_feed.authenticate(cluster, request.headers.get("Authorization"))
        except NotAllowed as refusal:
            return _refused(401, str(refusal))
        # read(), not .body: the feed's limit is its own, not DATA_UPLOAD_MAX_MEMORY_SIZE.
        body = request._request.read(limit + 1)
        if len(body) > limit:
            return _refused(413, too_large(limit))
        try:
            ingested = audit_feed.ingest(found, body)
        except audit_feed.BadBatch as error:
            return _refused(400, str(error))
        return Response({"received": ingested.received, "kept": ingested.kept}, status=202)


def _refused(status: int, detail: str) -> Response:
    return Response(problem_body(status, detail), status=status)
