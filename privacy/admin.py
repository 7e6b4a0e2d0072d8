"""The audit log is shown read-only on the admin site; retention and deletion requests are
changed through the school admin's pages (privacy.views), which audit the change."""

from django.contrib import admin

from privacy.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ("at", "action", "school", "actor", "subject", "target_type", "target_id")
    list_filter = ("action", "school")
    readonly_fields = (
        "at",
        "school",
        "actor",
        "action",
        "subject",
        "target_type",
        "target_id",
        "metadata",
    )
    actions = None

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
