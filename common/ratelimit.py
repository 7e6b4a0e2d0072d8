"""Fixed-window rate limiting on the shared cache (Redis in services mode).

The cache is shared by every web process, so a limit holds across processes. Counting
happens before the attempt (an atomic increment), so parallel requests cannot slip past
a limit; an attempt that should not count (one that succeeded) is given back after.
"""

import contextlib
import hashlib
import time

from django.core.cache import cache
from django.utils.translation import gettext as _

from common.errors import ApplicationError


def ratelimit_hit(*, scope: str, key: str, limit: int, window_seconds: int) -> str:
    """Count one attempt for (scope, key); raise ApplicationError past `limit` per window,
    with extra["retry_after"]: the seconds until the window ends.

    Returns the counter's name, for ratelimit_give_back().
    """
    now = time.time()
    window = int(now) // window_seconds
    # Hashed: keys may be e-mail addresses, which need not sit in the cache readable.
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    counter = f"ratelimit:{scope}:{digest}:{window}"
    # add() is atomic: it creates the counter only if no other process did first.
    cache.add(counter, 0, timeout=window_seconds + 1)
    try:
        count = cache.incr(counter)
    except ValueError:  # expired between add() and incr()
        cache.set(counter, 1, timeout=window_seconds + 1)
        count = 1
    if count > limit:
        retry_after = (window + 1) * window_seconds - int(now)
        raise ApplicationError(
            _("Too many attempts. Please wait a few minutes and try again."),
            extra={"retry_after": retry_after},
        )
    return counter


def ratelimit_give_back(counter: str) -> None:
    """Uncount one attempt that ratelimit_hit() counted on `counter`."""
    with contextlib.suppress(ValueError):  # its window ended and the counter expired
        cache.decr(counter)


def client_address(request) -> str:
    """The client's address as seen by this process (the proxy sets REMOTE_ADDR right)."""
    return request.META.get("REMOTE_ADDR", "unknown")
