"""Periodic data-rights tasks (settings.CELERY_BEAT_SCHEDULE). Thin: call a service.
Both are idempotent: a rerun finds nothing left to do."""

from celery import shared_task


@shared_task(time_limit=1800, soft_time_limit=1750)
def erase_due() -> int:
    """Hourly: erase the students whose deletion cool-off has passed; returns how many."""
    from privacy.services import erasure_run_due

    return erasure_run_due()


@shared_task(time_limit=1800, soft_time_limit=1750)
def enforce_retention() -> dict[str, int]:
    """Nightly: delete what is past each school's retention date; returns counts."""
    from privacy.services import retention_enforce

    return retention_enforce()
