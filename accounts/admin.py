from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

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
