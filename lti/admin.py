"""Site admins register a school's LMS here (docs/lti.md)."""

from django.contrib import admin

from lti.models import LtiDeployment, LtiIdentity, LtiPlatform, LtiToolKey


class LtiDeploymentInline(admin.TabularInline):
    model = LtiDeployment
    extra = 1


@admin.register(LtiPlatform)
class LtiPlatformAdmin(admin.ModelAdmin):
    list_display = ("name", "school", "issuer", "client_id", "is_active")
    list_filter = ("is_active", "school")
    search_fields = ("name", "issuer", "client_id")
    inlines = [LtiDeploymentInline]
    fields = (
        "school",
        "name",
        "issuer",
        "client_id",
        "auth_login_url",
        "auth_token_url",
        "key_set_url",
        "key_set",
        "is_active",
    )


@admin.register(LtiToolKey)
class LtiToolKeyAdmin(admin.ModelAdmin):
    """Read-only: keys are made and retired with `manage.py lti_rotate_keys`."""

    list_display = ("kid", "created_at", "retires_at")
    fields = ("kid", "public_jwk", "created_at", "retires_at")
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(LtiIdentity)
class LtiIdentityAdmin(admin.ModelAdmin):
    list_display = ("user", "school", "issuer", "sub", "created_at")
    list_filter = ("school",)
    search_fields = ("sub", "user__email")
    raw_id_fields = ("user",)
    readonly_fields = ("school", "issuer", "sub", "user", "created_at")

    def has_add_permission(self, request):
        return False
