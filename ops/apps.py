from django.apps import AppConfig


class OpsConfig(AppConfig):
    """Operations: health checks, Prometheus metrics, the school admin's status page,
    backup and restore."""

    name = "ops"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Task metrics come from Celery's signals: they fire in whichever process runs the
        # task (a worker, or the web process when tasks run in-process).
        from ops import celery_metrics

        celery_metrics.connect()
