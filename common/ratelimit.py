"""Fixed-window rate limiting on the shared cache (Redis in services mode).

The cache is shared by every web process, so a limit holds across processes.
"""

import time

from django.core.cache import cache
from django.utils.translation import gettext as _

from common.errors import ApplicationError


def ratelimit_hit(*, scope: str, key: str, limit: int, window_seconds: int) -> None:
    """Count one attempt for (scope, key); raise ApplicationError past `limit` per window."""
    window = int(time.time()) // window_seconds
    cache_key = f"ratelimit:{scope}:{key}:{window}"
    # add() is atomic: it creates the counter only if no other process did first.
    cache.add(cache_key, 0, timeout=window_seconds + 1)
    try:
        count = cache.incr(cache_key)
    except ValueError:  # expired between add() and incr()
        cache.set(cache_key, 1, timeout=window_seconds + 1)
        count = 1
    if count > limit:
        raise ApplicationError(
            _("Too many attempts. Please wait a few minutes and try again."),
            extra={"retry_after": window_seconds},
        )


def client_address(request) -> str:
    """The client's address as seen by this process (the proxy sets REMOTE_ADDR right)."""
    return request.META.get("REMOTE_ADDR", "unknown")
