from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LtiConfig(AppConfig):
    name = "lti"
    verbose_name = _("LTI (launches from a school's LMS)")
    default_auto_field = "django.db.models.BigAutoField"
