from django.apps import AppConfig


class CoursesConfig(AppConfig):
    name = "courses"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers courses/translation.py with django-modeltranslation. Safe to run when
        # "modeltranslation" is also in INSTALLED_APPS: registration happens once.
        from modeltranslation.models import handle_translation_registrations

        handle_translation_registrations()
