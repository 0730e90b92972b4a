from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Model, QuerySet
from django.http import HttpRequest

from driftcontrol import audit
from driftcontrol.models import (
    ApiToken,
    AuditEvent,
    OutboxEvent,
    WebhookDelivery,
    WebhookSubscription,
    WorkerHeartbeat,
)


class AuditedAdmin(admin.ModelAdmin):
    """Changes made in the admin land in the audit log like any other change.

    The admin wraps each change in a transaction, so the event commits with it.
    """

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        verb = "updated" if change else "created"
        audit.record(
            request.user,
            f"{obj._meta.model_name}.{verb}",
            obj,
            {"via": "admin", "changed": sorted(form.changed_data)},
        )

    def delete_model(self, request: HttpRequest, obj: Model) -> None:
        audit.record(request.user, f"{obj._meta.model_name}.deleted", obj, {"via": "admin"})
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for obj in queryset:
            audit.record(request.user, f"{obj._meta.model_name}.deleted", obj, {"via": "admin"})
        super().delete_queryset(request, queryset)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written only by the system: visible, never editable here."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["sequence", "created_at", "actor", "action", "object_type", "object_repr"]
    list_filter = ["action", "object_type"]
    search_fields = ["actor", "action", "object_repr", "object_id"]
    readonly_fields = [f.name for f in AuditEvent._meta.fields]


@admin.register(OutboxEvent)
class OutboxEventAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "event_type", "dispatched_at"]
    list_filter = ["event_type"]
    readonly_fields = [f.name for f in OutboxEvent._meta.fields]


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(ReadOnlyAdmin):
    list_display = ["hostname", "last_seen", "queues"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are made with `drift token create` or the API (shown once); here they can
    only be looked at and revoked."""

    list_display = ["prefix", "name", "user", "scope", "expires_at", "last_used_at", "revoked_at"]
    list_filter = ["scope"]
    search_fields = ["name", "prefix", "user__username"]
    readonly_fields = [f.name for f in ApiToken._meta.fields if f.name != "revoked_at"]
    actions = ["revoke"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        from driftcontrol import tokens

        for token in queryset:
            tokens.revoke(token.pk, request.user)


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(admin.ModelAdmin):
    """Changed through the API or `drift webhook` (they check the target); read here."""

    list_display = ["name", "url", "active", "event_types", "updated_at"]
    list_filter = ["active"]
    search_fields = ["name", "url"]
    exclude = ["secret"]
    readonly_fields = [f.name for f in WebhookSubscription._meta.fields if f.name != "secret"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "subscription",
        "event_type",
        "status",
        "attempts",
        "response_code",
        "last_attempt_at",
    ]
    list_filter = ["status", "event_type", "subscription"]
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]
