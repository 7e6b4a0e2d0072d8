"""Retry policy shared by Celery tasks.

MAX_RETRY_BACKOFF must stay below the broker's visibility timeout
(settings.CELERY_BROKER_TRANSPORT_OPTIONS), or a task waiting to retry is redelivered.
"""

MAX_RETRY_BACKOFF = 600
MAX_RETRIES = 5

RETRY_POLICY = {
    # Network trouble (SMTP, broker, inference worker) is worth retrying; bugs are not.
    "autoretry_for": (OSError,),
    "retry_backoff": True,
    "retry_backoff_max": MAX_RETRY_BACKOFF,
    "retry_jitter": True,
    "max_retries": MAX_RETRIES,
}
