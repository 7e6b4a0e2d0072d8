"""Site administrators set up each school's identity provider: the protocol settings on
allauth's social application, the school and mapping on its inline (docs/sso.md)."""

from allauth.socialaccount.admin import SocialAppAdmin
from allauth.socialaccount.models import SocialApp
from django.contrib import admin

from sso.models import IdentityProvider

IDENTITY_PROVIDER_FIELDS = (
    "school",
    "label",
    "email_domains",
    "role_attribute",
    "role_mapping",
    "default_role",
    "sync_role",
    "show_on_login_page",
    "enabled",
)


class IdentityProviderInline(admin.StackedInline):
    model = IdentityProvider
    fields = IDENTITY_PROVIDER_FIELDS
    extra = 0
    max_num = 1


class ExocortexSocialAppAdmin(SocialAppAdmin):
    inlines = [*SocialAppAdmin.inlines, IdentityProviderInline]
    list_display = ("name", "provider", "provider_id", "client_id")


admin.site.unregister(SocialApp)
admin.site.register(SocialApp, ExocortexSocialAppAdmin)


@admin.register(IdentityProvider)
class IdentityProviderAdmin(admin.ModelAdmin):
    list_display = ("label", "school", "app", "email_domains", "default_role", "enabled")
    list_filter = ("enabled", "school")
    search_fields = ("label", "school__name", "email_domains")
    fields = ("app", *IDENTITY_PROVIDER_FIELDS)
