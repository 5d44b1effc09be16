"""Every error the package raises, in one place."""

from __future__ import annotations


class OnCallError(Exception):
    """Base class. `str()` names the method, path, status and the server's text."""

    def __init__(
        self,
        message: str,
        *,
        method: str = "",
        path: str = "",
        status: int | None = None,
        errors: list[str] | None = None,
    ) -> None:
        super().__init__(message)
        self.method = method
        self.path = path
        self.status = status
        self.errors = errors or []


class ConfigurationError(OnCallError):
    """`oncall:url` or `oncall:token` is missing or malformed."""


class NotFoundError(OnCallError):
    """404: the integration does not exist (or was deleted, or belongs to another org)."""


class AuthError(OnCallError):
    """401/403: the token is wrong, or lacks the permission for a write."""


class ValidationError(OnCallError):
    """400: the server refused the request body. `errors` holds `field: message` lines."""


class ThrottledError(OnCallError):
    """429: over the per-user rate limit. `retry_after` is in seconds."""

    def __init__(self, message: str, *, retry_after: float, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.retry_after = retry_after


class ServerError(OnCallError):
    """5xx: the server failed. The write may or may not have happened."""


class NotOnCallAPIError(OnCallError):
    """The answer was not JSON: the URL most likely does not point at the OnCall API."""


class TransportError(OnCallError):
    """No HTTP answer: connection refused, reset, timed out, or TLS failure.

    `request_sent` is False when the server cannot have seen the request.
    """

    def __init__(self, message: str, *, request_sent: bool, tls: bool = False, **kwargs: object):
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.request_sent = request_sent
        self.tls = tls


class OutcomeUnknownError(OnCallError):
    """A create may or may not have happened, and the lookup that would tell failed."""


class ConflictError(OnCallError):
    """An integration with the same name already exists in the team and is not ours to adopt."""
