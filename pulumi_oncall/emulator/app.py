"""The Flask app: public API routes, their gates (faults, auth, throttling), admin routes."""

from __future__ import annotations

import hmac
import json
import math
import socket
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

from flask import Flask, Response, g, request
from werkzeug.exceptions import InternalServerError, MethodNotAllowed, NotFound
from werkzeug.http import HTTP_STATUS_CODES

from . import integrations
from .constants import ADMIN_HEADER, ADMIN_PREFIX, GRAFANA_URL_HEADER
from .errors import (
    NOT_FOUND_HTML,
    SERVER_ERROR_HTML,
    ApiError,
    ServerCrash,
    detail,
    proxy_error_html,
)
from .faults import FaultSettingsError
from .integrations import new_id
from .state import EmulatorState, User

T = TypeVar("T")

API_PREFIX = "/api/v1"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
DEFAULT_PAGE_SIZE = 50

NO_PERMISSION = "You do not have permission to perform this action."


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json", headers=headers)


def _html(body: str, status: int) -> Response:
    return Response(body, status=status, mimetype="text/html")


def _fault_response(status: int) -> Response:
    if status == 500:
        return _html(SERVER_ERROR_HTML, 500)
    return _html(proxy_error_html(status, HTTP_STATUS_CODES.get(status, "Error")), status)


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


def _strict_constant(token: str) -> Any:
    # DRF's JSONParser refuses NaN and the infinities in these words.
    raise ValueError(f"Out of range float values are not JSON compliant: {token!r}")


def parse_json(raw: bytes) -> Any:
    """A JSON body as DRF's JSONParser reads it, or the 400 it answers.

    Python's json gives up on a deeply nested body with RecursionError, which DRF
    does not catch (the real server answers an HTML 500): here it is a 400 like
    any other parse error, with Python's message.
    """
    try:
        return json.loads(raw, parse_constant=_strict_constant)
    except (ValueError, RecursionError) as exc:
        raise detail(f"JSON parse error - {exc}") from exc


def _request_body() -> Any:
    """The decoded JSON body, parsed the way DRF does."""
    raw = request.get_data(cache=True)
    if not raw:
        return {}
    mimetype = request.mimetype
    if mimetype != "application/json" and not mimetype.endswith("+json"):
        raise ApiError(
            415, {"detail": f'Unsupported media type "{request.content_type}" in request.'}
        )
    return parse_json(raw)


def _page_url(page: int | None) -> str:
    """This request's URL on another page, like DRF's replace_query_param."""
    parts = urlsplit(request.full_path)
    query = parse_qs(parts.query, keep_blank_values=True)
    if page is None:
        query.pop("page", None)
    else:
        query["page"] = [str(page)]
    path = urlunsplit(("", "", parts.path, urlencode(sorted(query.items()), doseq=True), ""))
    return str(g.public_url) + path


def _positive_int(value: str | None, default: int) -> int:
    try:
        number = int(value) if value is not None else default
    except ValueError:
        return default
    return number if number > 0 else default


def _paginate(items: list[T], render: Callable[[T], Any]) -> dict[str, Any]:
    """Django's Paginator.get_page: a bad page is page 1, a page out of range the last."""
    per_page = _positive_int(request.args.get("perpage"), DEFAULT_PAGE_SIZE)
    total_pages = max(1, math.ceil(len(items) / per_page))
    raw_page = request.args.get("page", "1")
    try:
        page = total_pages if raw_page == "last" else int(raw_page)
    except ValueError:
        page = 1
    if not 1 <= page <= total_pages:
        page = total_pages
    start = (page - 1) * per_page
    return {
        "count": len(items),
        "next": _page_url(page + 1) if page < total_pages else None,
        "previous": _page_url(None if page == 2 else page - 1) if page > 1 else None,
        "results": [render(item) for item in items[start : start + per_page]],
        "page_size": per_page,
        "current_page_number": page,
        "total_pages": total_pages,
    }


def create_app(state: EmulatorState) -> Flask:
    app = Flask("pulumi_oncall.emulator")
    # Trailing slash optional everywhere, answered without redirects.
    app.url_map.strict_slashes = False

    @contextmanager
    def write() -> Iterator[None]:
        try:
            with state.store.transaction():
                yield
        except sqlite3.IntegrityError as exc:
            # What a real database does with, e.g., a name over 150 characters.
            raise ServerCrash() from exc

    # Gates

    @app.before_request
    def gate() -> Response | None:
        g.public_url = state.public_url
        if request.path.startswith(ADMIN_PREFIX):
            return _check_admin()
        g.api = True
        auth = state.authenticate(
            request.headers.get("Authorization"), request.headers.get(GRAFANA_URL_HEADER)
        )
        g.user = auth if isinstance(auth, User) else None
        plan = g.plan = state.faults.plan()
        if plan.latency_s:
            time.sleep(plan.latency_s)
        if plan.drop_before:
            g.fault = "drop_before"  # dropped once logged, in record()
            return _html(SERVER_ERROR_HTML, 500)
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
        settings = state.faults.settings
        wait = state.limiter.acquire(user.name, settings.rate_limit, settings.rate_window)
        if wait is not None:
            return _json(
                {"detail": f"Request was throttled. Expected available in {wait} seconds."},
                429,
                headers={"Retry-After": str(wait), "RateLimit-Reset": str(wait)},
            )
        g.admitted = True
        return None

    def _check_admin() -> Response | None:
        secret = state.config.admin_secret
        given = request.headers.get(ADMIN_HEADER, "")
        if secret and not hmac.compare_digest(given.encode(), secret.encode()):
            return _json({"detail": f"Missing or wrong {ADMIN_HEADER} header."}, 403)
        return None

    @app.after_request
    def record(response: Response) -> Response:
        if not g.get("api"):
            return response
        fault = g.get("fault")
        drop = fault == "drop_before"
        if g.get("admitted") and request.method in WRITE_METHODS and g.plan.drop_after:
            fault = "drop_after"
            drop = True
        user = g.get("user")
        state.log.add(
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

    # Errors

    @app.errorhandler(ApiError)
    def api_error(exc: ApiError) -> Response:
        return _json(exc.body, exc.status, headers=exc.headers)

    @app.errorhandler(NotFound)
    def not_found(_: NotFound) -> Response:
        return _html(NOT_FOUND_HTML, 404)

    @app.errorhandler(MethodNotAllowed)
    def method_not_allowed(exc: MethodNotAllowed) -> Response:
        response = _json({"detail": f'Method "{request.method}" not allowed.'}, 405)
        if exc.valid_methods:
            response.headers["Allow"] = ", ".join(exc.valid_methods)
        return response

    @app.errorhandler(InternalServerError)
    def server_error(_: InternalServerError) -> Response:
        return _html(SERVER_ERROR_HTML, 500)

    # Public API

    @app.get(f"{API_PREFIX}/integrations/")
    def list_integrations() -> Response:
        if "team_id" in request.args:
            raise ServerCrash()  # as the real server does
        ctx = state.context()
        records = state.store.list_integrations(request.args.get("name"))
        return _json(_paginate(records, lambda r: integrations.render(r, ctx)))

    @app.post(f"{API_PREFIX}/integrations/")
    def create_integration() -> Response:
        body = _request_body()
        ctx = state.context()
        with write():
            rec = integrations.create(body, ctx)
        return _json(integrations.render(rec, ctx), 201)

    @app.get(f"{API_PREFIX}/integrations/<integration_id>/")
    def get_integration(integration_id: str) -> Response:
        ctx = state.context()
        return _json(integrations.render(integrations.get(integration_id, ctx), ctx))

    @app.route(f"{API_PREFIX}/integrations/<integration_id>/", methods=["PUT", "PATCH"])
    def update_integration(integration_id: str) -> Response:
        ctx = state.context()
        with write():
            rec = integrations.get(integration_id, ctx)
            rec = integrations.update(rec, _request_body(), ctx)
        return _json(integrations.render(rec, ctx))

    @app.delete(f"{API_PREFIX}/integrations/<integration_id>/")
    def delete_integration(integration_id: str) -> Response:
        ctx = state.context()
        with write():
            integrations.delete(integrations.get(integration_id, ctx), ctx)
        return Response(status=204)

    @app.get(f"{API_PREFIX}/teams/")
    def list_teams() -> Response:
        teams = state.store.list_teams(request.args.get("name"))
        return _json(_paginate(teams, lambda t: {**t, "email": None, "avatar_url": None}))

    @app.get(f"{API_PREFIX}/escalation_chains/")
    def list_escalation_chains() -> Response:
        chains = state.store.list_chains(request.args.get("name"))
        return _json(_paginate(chains, lambda c: c))

    # Admin API (never faulted, throttled or logged)

    def admin_body() -> dict[str, Any]:
        raw = request.get_data(cache=True)
        body = parse_json(raw) if raw else {}
        if not isinstance(body, dict):
            raise detail("expected a JSON object")
        return body

    def admin_name(body: dict[str, Any]) -> str:
        name = body.get("name")
        if not isinstance(name, str) or not name.strip():
            raise detail("name must be a non-empty string")
        return name.strip()

    def admin_id(body: dict[str, Any], prefix: str) -> str:
        given = body.get("id")
        if given is None:
            return new_id(prefix)
        if not isinstance(given, str) or not given:
            raise detail("id must be a non-empty string")
        return given

    @app.get(f"{ADMIN_PREFIX}health/")
    def admin_health() -> Response:
        return _json({"status": "ok", "flavour": state.flavour.name})

    @app.get(f"{ADMIN_PREFIX}requests/")
    def admin_requests() -> Response:
        return _json({"requests": state.log.entries()})

    @app.delete(f"{ADMIN_PREFIX}requests/")
    def admin_clear_requests() -> Response:
        state.log.clear()
        return Response(status=204)

    @app.get(f"{ADMIN_PREFIX}faults/")
    def admin_faults() -> Response:
        return _json(state.faults.settings.to_json())

    @app.put(f"{ADMIN_PREFIX}faults/")
    def admin_set_faults() -> Response:
        try:
            state.faults.settings = state.faults.settings.updated(admin_body())
        except FaultSettingsError as exc:
            raise detail(str(exc)) from exc
        return _json(state.faults.settings.to_json())

    @app.get(f"{ADMIN_PREFIX}settings/")
    def admin_settings() -> Response:
        return _json(
            {
                "slack_connected": state.slack_connected,
                "grafana_reachable": state.grafana_reachable,
            }
        )

    @app.put(f"{ADMIN_PREFIX}settings/")
    def admin_set_settings() -> Response:
        body = admin_body()
        unknown = set(body) - {"slack_connected", "grafana_reachable"}
        if unknown or not all(isinstance(v, bool) for v in body.values()):
            raise detail("expected booleans slack_connected and/or grafana_reachable")
        state.slack_connected = body.get("slack_connected", state.slack_connected)
        state.grafana_reachable = body.get("grafana_reachable", state.grafana_reachable)
        return admin_settings()

    @app.get(f"{ADMIN_PREFIX}teams/")
    def admin_teams() -> Response:
        return _json({"teams": state.store.list_teams()})

    @app.post(f"{ADMIN_PREFIX}teams/")
    def admin_add_team() -> Response:
        body = admin_body()
        return _json(state.store.put_team(admin_id(body, "T"), admin_name(body)), 201)

    @app.get(f"{ADMIN_PREFIX}escalation_chains/")
    def admin_chains() -> Response:
        return _json({"escalation_chains": state.store.list_chains()})

    @app.post(f"{ADMIN_PREFIX}escalation_chains/")
    def admin_add_chain() -> Response:
        body = admin_body()
        team_id = body.get("team_id")
        if team_id is not None and not isinstance(team_id, str):
            raise detail("team_id must be a string or null")
        chain = state.store.put_chain(admin_id(body, "F"), admin_name(body), team_id)
        return _json(chain, 201)

    @app.get(f"{ADMIN_PREFIX}integrations/")
    def admin_integrations() -> Response:
        include_deleted = request.args.get("include_deleted", "") not in ("", "0", "false")
        ctx = state.context()
        rows = [
            {**integrations.render(rec, ctx), "deleted": rec.deleted, "hidden": rec.hidden}
            for rec in state.store.all_integrations(include_deleted)
        ]
        return _json({"integrations": rows})

    @app.post(f"{ADMIN_PREFIX}integrations/")
    def admin_add_integration() -> Response:
        ctx = state.context()
        with write():
            rec = integrations.seed(admin_body(), ctx)
        assert rec is not None
        return _json(integrations.render(rec, ctx), 201)

    @app.post(f"{ADMIN_PREFIX}reset/")
    def admin_reset() -> Response:
        state.reset()
        return Response(status=204)

    return app
