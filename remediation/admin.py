from django.contrib import admin

from driftcontrol.admin import ReadOnlyAdmin
from remediation.models import Approval, ObjectPin, RemediationRequest, RemediationStep


class StepInline(admin.TabularInline):
    model = RemediationStep
    extra = 0
    can_delete = False
    fields = ["position", "action", "kind", "namespace", "name", "status", "attempts", "applied_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


class ApprovalInline(admin.TabularInline):
    model = Approval
    extra = 0
    can_delete = False
    readonly_fields = ["approver", "decision", "comment", "created_at"]

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(RemediationRequest)
class RemediationRequestAdmin(ReadOnlyAdmin):
    """Requests change state only through the remediation services (audited, four-eyes)."""

    list_display = [
        "id",
        "cluster",
        "strategy",
        "status",
        "severity",
        "requested_by",
        "created_at",
        "expires_at",
    ]
    list_filter = ["status", "strategy", "severity"]
    list_select_related = ["cluster", "requested_by"]
    inlines = [StepInline, ApprovalInline]


@admin.register(Approval)
class ApprovalAdmin(ReadOnlyAdmin):
    list_display = ["request", "approver", "decision", "created_at"]
    list_select_related = ["approver"]


@admin.register(ObjectPin)
class ObjectPinAdmin(ReadOnlyAdmin):
    """Pins change through `drift unpin` (audited, approver role), not here."""

    list_display = ["cluster", "kind", "namespace", "name", "reason", "created_at", "released_at"]
    list_filter = ["cluster"]
