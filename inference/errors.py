"""Error types shared by the worker (raised) and the client (re-raised from HTTP answers).

No vllm/torch imports here: `inference.client`, which Django imports, uses these.
Each error knows its HTTP status and a stable machine-readable `code`; the API turns it
into `{"error": {"message", "type", "code"}}` and the client turns that back into the
same class.
"""

from __future__ import annotations


class InferenceError(Exception):
    """Base class. `status` is the HTTP status the API answers with."""

    status = 500
    code = "internal_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(InferenceError):
    """The request itself is invalid (400); retrying it unchanged will fail again."""

    status = 400
    code = "bad_request"


class PayloadTooLarge(BadRequest):
    """The request body (or its text beside the images) is over the worker's size limit
    (413). Refused before it is parsed or tokenised."""

    status = 413
    code = "payload_too_large"


class Unauthorized(InferenceError):
    """The worker has an API key and the request did not present it (401). Not retried
    on another worker: they share the key."""

    status = 401
    code = "unauthorized"


class InferenceBusy(InferenceError):
    """The queue for this class is full (429); retry after `retry_after` seconds."""

    status = 429
    code = "queue_full"

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class DeadlineExceeded(InferenceError):
    """The request's deadline passed while it was queued, so it was never run (504)."""

    status = 504
    code = "deadline_exceeded"


class InferenceUnavailable(InferenceError):
    """The worker is down, starting, or its engine failed (503)."""

    status = 503
    code = "unavailable"


ERRORS_BY_CODE: dict[str, type[InferenceError]] = {
    cls.code: cls
    for cls in (
        InferenceError,
        BadRequest,
        PayloadTooLarge,
        Unauthorized,
        InferenceBusy,
        DeadlineExceeded,
        InferenceUnavailable,
    )
}
