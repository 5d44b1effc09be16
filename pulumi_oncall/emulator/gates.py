"""What every request goes through before and after its blueprint: faults, auth,
throttling and the request log for the public API, the secret for the admin API,
and the server's error pages."""

from __future__ import annotations

import hmac
import socket
import time
from contextlib import suppress

from flask import Flask, Response, g, request
from werkzeug.exceptions import InternalServerError, MethodNotAllowed, NotFound
from werkzeug.http import HTTP_STATUS_CODES

from .constants import ADMIN_HEADER, ADMIN_PREFIX, GRAFANA_URL_HEADER
from .errors import NOT_FOUND_HTML, SERVER_ERROR_HTML, ApiError, detail, proxy_error_html
from .state import User
from .web import html_response, json_response, state

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

NO_PERMISSION = "You do not have permission to perform this action."


def _fault_response(status: int) -> Response:
    if status == 500:
        return html_response(SERVER_ERROR_HTML, 500)
    return html_response(proxy_error_html(status, HTTP_STATUS_CODES.get(status, "Error")), status)


def _drop_connection() -> None:
    """Close the client's connection so that no response reaches it.

    Only shut down, not close: werkzeug still polls the socket after the app
    returns and logs a traceback on a closed one. Its write of our response then
    fails with EPIPE, which it takes for a client that went away.
    """
    sock = request.environ.get("werkzeug.socket")
    if sock is None:
        raise RuntimeError("dropping connections needs werkzeug's server")
    with suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


def _check_admin() -> Response | None:
    secret = state().config.admin_secret
    given = request.headers.get(ADMIN_HEADER, "")
    if secret and not hmac.compare_digest(given.encode(), secret.encode()):
        return json_response({"detail": f"Missing or wrong {ADMIN_HEADER} header."}, 403)
    return None


def gate() -> Response | None:
    emulator = state()
    g.public_url = emulator.public_url
    # What the server would have done in the background by now.
    emulator.apply_due_labels()
    if request.path.startswith(ADMIN_PREFIX):
        return _check_admin()
    g.api = True
    auth = emulator.authenticate(
        request.headers.get("Authorization"), request.headers.get(GRAFANA_URL_HEADER)
    )
    g.user = auth if isinstance(auth, User) else None
    plan = g.plan = emulator.faults.plan()
    if plan.latency_s:
        time.sleep(plan.latency_s)
    if plan.drop_before:
        g.fault = "drop_before"  # dropped once logged, in record()
        return html_response(SERVER_ERROR_HTML, 500)
    if plan.fail_status is not None:
        g.fault = "fail"
        return _fault_response(plan.fail_status)
    # Django resolves the URL before authenticating; DRF checks the method after.
    if request.url_rule is None and not isinstance(request.routing_exception, MethodNotAllowed):
        return None
    if not isinstance(auth, User):
        raise auth
    user = auth
    if request.method not in SAFE_METHODS and not user.can_write:
        raise detail(NO_PERMISSION, 403)
    settings = emulator.faults.settings
    # One window per user, shared by every endpoint of the public API.
    wait = emulator.limiter.acquire(user.name, settings.rate_limit, settings.rate_window)
    if wait is not None:
        return json_response(
            {"detail": f"Request was throttled. Expected available in {wait} seconds."},
            429,
            headers={"Retry-After": str(wait), "RateLimit-Reset": str(wait)},
        )
    g.admitted = True
    return None


def record(response: Response) -> Response:
    if not g.get("api"):
        return response
    fault = g.get("fault")
    drop = fault == "drop_before"
    if g.get("admitted") and request.method in WRITE_METHODS and g.plan.drop_after:
        fault = "drop_after"
        drop = True
    user = g.get("user")
    state().log.add(
        {
            "method": request.method,
            "path": request.path,
            "query": request.query_string.decode("latin-1"),
            "status": None if fault == "drop_before" else response.status_code,
            "user": user.name if user else None,
            "fault": fault,
            "time": time.time(),
        }
    )
    # Logged first: the client's next request may arrive as soon as the drop does.
    if drop:
        _drop_connection()
    return response


def api_error(exc: ApiError) -> Response:
    return json_response(exc.body, exc.status, headers=exc.headers)


def not_found(_: NotFound) -> Response:
    return html_response(NOT_FOUND_HTML, 404)


def method_not_allowed(exc: MethodNotAllowed) -> Response:
    response = json_response({"detail": f'Method "{request.method}" not allowed.'}, 405)
    if exc.valid_methods:
        response.headers["Allow"] = ", ".join(exc.valid_methods)
    return response


def server_error(_: InternalServerError) -> Response:
    return html_response(SERVER_ERROR_HTML, 500)


def install(app: Flask) -> None:
    app.before_request(gate)
    app.after_request(record)
    app.register_error_handler(ApiError, api_error)
    app.register_error_handler(NotFound, not_found)
    app.register_error_handler(MethodNotAllowed, method_not_allowed)
    app.register_error_handler(InternalServerError, server_error)
