from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import Classroom, Membership, School, User


@admin.register(User)
class ExocortexUserAdmin(UserAdmin):
    list_display = ("email", "display_name", "role", "school", "is_active")
    list_filter = ("role", "school", "is_active")
    search_fields = ("email", "display_name")
    fieldsets = (
        *UserAdmin.fieldsets,
        ("Exocortex", {"fields": ("display_name", "role", "school", "preferred_language")}),
    )


@admin.register(School)
class SchoolAdmin(admin.ModelAdmin):
    list_display = ("name", "created_at")


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0


@admin.register(Classroom)
class ClassroomAdmin(admin.ModelAdmin):
    list_display = ("name", "school", "teacher", "capacity", "join_code_expires_at")
    list_filter = ("school",)
    inlines = [MembershipInline]


# Two-factor devices (accounts/two_factor.py): a site admin may only see and delete them,
# for someone who lost both phone and backup codes. django-otp's own admin would show the
# secret key as a QR code; it is replaced.
for device_model in (TOTPDevice, StaticDevice):
    if admin.site.is_registered(device_model):
        admin.site.unregister(device_model)


class _DeviceAdmin(admin.ModelAdmin):
    list_display = ("user", "name", "confirmed", "last_used_at")
    search_fields = ("user__email",)
    fields = ("user", "name", "confirmed", "created_at", "last_used_at")
    readonly_fields = fields

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


admin.site.register(TOTPDevice, _DeviceAdmin)
admin.site.register(StaticDevice, _DeviceAdmin)
