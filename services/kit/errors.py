"""The one exception family domains raise; the API renders each as `{"detail", "code"}` with its status."""

from __future__ import annotations


class DomainError(Exception):
    status_code: int = 400
    code: str = "bad_request"

    def __init__(self, detail: str | None = None, **extra: object) -> None:
        self.detail = detail or self.__doc__ or self.code
        self.extra = extra
        super().__init__(self.detail)


class NotFound(DomainError):
    """Not found."""

    status_code = 404
    code = "not_found"


class Conflict(DomainError):
    """The request conflicts with the current state."""

    status_code = 409
    code = "conflict"


class Forbidden(DomainError):
    """You are not allowed to do this."""

    status_code = 403
    code = "forbidden"


class Unauthorized(DomainError):
    """Authentication is required."""

    status_code = 401
    code = "not_authenticated"


class InvalidInput(DomainError):
    """The request is not valid."""

    status_code = 422
    code = "invalid"


class PayloadTooLarge(DomainError):
    """The request is too large."""

    status_code = 413
    code = "payload_too_large"


class ServiceUnavailable(DomainError):
    """The server is too busy to do this right now; try again after `Retry-After` seconds."""

    status_code = 503
    code = "busy"

    def __init__(self, detail: str | None = None, *, retry_after: int) -> None:
        super().__init__(detail, retry_after=retry_after)
        self.headers = {"Retry-After": str(retry_after)}
