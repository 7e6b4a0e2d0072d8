"""Container health check: GET a URL, exit 0 on HTTP 200.

The web container's Django answers only for ALLOWED_HOSTS and redirects plain HTTP in
production, so the probe presents the first allowed host and says TLS was terminated.
Standard library only: it runs in both images.
"""

import os
import sys
import urllib.request


def main(url: str) -> int:
    headers = {"X-Forwarded-Proto": "https"}
    allowed = os.environ.get("ALLOWED_HOSTS", "").split(",")[0].strip().lstrip(".")
    if allowed and allowed != "*":
        headers["Host"] = allowed
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 - fixed local URL
    try:
        with urllib.request.urlopen(request, timeout=4) as response:  # noqa: S310
            return 0 if response.status == 200 else 1
    except OSError as exc:
        print(f"unhealthy: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
