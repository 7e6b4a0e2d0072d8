"""The one domain error type services raise; edges turn it into a 400 or an error frame."""

from typing import Any


class ApplicationError(Exception):
    """A request that cannot be carried out, with a message fit to show the user.

    `field` names the form field the message belongs to, when there is one; `extra`
    carries machine-readable details.
    """

    def __init__(
        self, message: str, *, field: str | None = None, extra: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.extra = extra or {}
