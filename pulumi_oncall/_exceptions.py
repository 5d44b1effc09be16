"""Every error the package raises, in one place.

Our exception hierarchy:

* OnCallError                 the root; answers of other statuses are raised as it
  x ConfigurationError        a setting is missing or malformed
  x ProgramError              also a pulumi.RunError: the program stops with one line
    + LookupFailed            a lookup found nothing, too much, or could not ask
  x SampleError               also a ValueError: template_samples that cannot be used
    + ExpectationError        a sample's `route` names no route of the integration
  x StateError                also a ValueError: a state to migrate from that cannot be read
  x ValidationError           400: the server refused the request body
  x AuthError                 401/403: the token is wrong, or lacks a permission
  x NotFoundError             404
  x NotOnCallAPIError         the answer was not JSON: not the OnCall API
  x NoAnswerError             no HTTP answer; `request_sent` says if the server saw it
    + TLSError                the TLS handshake or certificate failed
    + TransportError          refused, reset, timed out, malformed (also transient)
  x TransientError            may succeed if tried again (the retry policy's base)
    + ThrottledError          429
    + ServerError             5xx
    + TransportError          (see above)
  x OutcomeUnknownError       a create may or may not have happened
  x ConflictError             the name is taken by an integration not ours to adopt

The client raises the HTTP ones with the facts as attributes; the words that say
which setting to fix are added by the connection (`connection.Hints`).

This module imports nothing of Pulumi at module level (the render process imports
it): `ProgramError` and `LookupFailed`, which derive from Pulumi's `RunError`, are
built on first use.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any


class OnCallError(Exception):
    """Root of every error of pulumi-oncall.

    Errors from the API name the method, path, status and the server's text in
    `str()`, and carry them as attributes; `errors` holds the server's lines.
    """

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
    """A setting (`oncall:url`, `oncall:token`, a connection, ...) is missing or malformed."""


class SampleError(OnCallError, ValueError):
    """`template_samples` (or a sample file) that cannot be rendered against."""


class ExpectationError(SampleError):
    """A sample's `route` names no route of the integration; the message says the fix."""


class StateError(OnCallError, ValueError):
    """A state file to migrate from that cannot be read: one line that says what was found."""


class ValidationError(OnCallError):
    """400: the server refused the request body. `errors` holds `field: message` lines."""


class AuthError(OnCallError):
    """401/403: the token is wrong, or lacks the permission for the request.

    `service_account` tells whether the token looks like a Grafana service-account
    token, `grafana_url` is the stack it was sent for, `resource` the collection asked
    for (`integrations`, `teams`, ...).
    """

    def __init__(
        self,
        message: str,
        *,
        service_account: bool = False,
        grafana_url: str | None = None,
        resource: str = "",
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.service_account = service_account
        self.grafana_url = grafana_url
        self.resource = resource


class NotFoundError(OnCallError):
    """404: the integration does not exist (or was deleted, or belongs to another org)."""


class NotOnCallAPIError(OnCallError):
    """The answer was not JSON: the URL most likely does not point at the OnCall API."""


class NoAnswerError(OnCallError):
    """No HTTP answer came back. `request_sent` is False when the server cannot have
    seen the request."""

    def __init__(self, message: str, *, request_sent: bool, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.request_sent = request_sent

    @property
    def maybe_processed(self) -> bool:
        """Whether the server may have acted on the request."""
        return self.request_sent


class TLSError(NoAnswerError):
    """The TLS handshake or the certificate failed: trying again cannot help."""


class TransientError(OnCallError):
    """A failure that may pass: the same request, sent again, may succeed.

    Whether sending it again is safe depends on `maybe_processed` and the method.
    """

    @property
    def maybe_processed(self) -> bool:
        """Whether the server may have acted on the request."""
        return True


class ThrottledError(TransientError):
    """429: over the per-user rate limit. `retry_after` is in seconds.

    `grafana_url` is the stack the request was sent for: Cloud answers 429 "being
    synced" for a stack it does not know.
    """

    def __init__(
        self, message: str, *, retry_after: float, grafana_url: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after
        self.grafana_url = grafana_url

    @property
    def maybe_processed(self) -> bool:
        return False  # the server refused to look at it


class ServerError(TransientError):
    """5xx: the server failed. The write may or may not have happened."""


class TransportError(NoAnswerError, TransientError):
    """No HTTP answer: connection refused, reset, timed out, or a malformed answer."""


class OutcomeUnknownError(OnCallError):
    """A create may or may not have happened, and the lookup that would tell failed."""


class ConflictError(OnCallError):
    """An integration with the same name already exists in the team and is not ours to adopt."""


if TYPE_CHECKING:
    from pulumi import RunError

    # Declared for type checkers; built by `_pulumi_errors` below.
    class ProgramError(OnCallError, RunError): ...

    class LookupFailed(ProgramError): ...

else:
    _PULUMI_ERRORS = ("ProgramError", "LookupFailed")
    _building = threading.Lock()

    def __getattr__(name: str) -> type[OnCallError]:
        if name not in _PULUMI_ERRORS:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        with _building:
            if name not in globals():
                _pulumi_errors()
        return globals()[name]

    def _pulumi_errors() -> None:
        # Once per process, so that every `except LookupFailed` sees one class.
        from pulumi import RunError

        class ProgramError(OnCallError, RunError):
            """A mistake of the program, found in the program (not by the provider).

            A `pulumi.RunError` too, which the Pulumi CLI shows as its message alone.
            """

        class LookupFailed(ProgramError):
            """A lookup found nothing, or more than one match, or could not ask. Shown by
            the Pulumi CLI as its message alone."""

        for cls in (ProgramError, LookupFailed):
            cls.__qualname__ = cls.__name__
            globals()[cls.__name__] = cls
