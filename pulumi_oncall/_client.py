"""HTTP client for OnCall's Integrations API. HTTP only: no Pulumi here.

It raises the errors of `exceptions` with the facts as attributes, and knows no
settings: the words that say which one to fix come from its `advice`, which the
connection (`connection.Hints`) supplies.
"""

from __future__ import annotations

import functools
import json
import os
import ssl
import sys
import threading
import time
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

import httpx
import tenacity

from ._exceptions import (
    AuthError,
    ConfigurationError,
    NotFoundError,
    NotOnCallAPIError,
    OnCallError,
    OutcomeUnknownError,
    ServerError,
    ThrottledError,
    TLSError,
    TransientError,
    TransportError,
    ValidationError,
)
from ._version import __version__

USER_AGENT = f"pulumi-oncall/{__version__}"
GRAFANA_URL_HEADER = "X-Grafana-URL"
PAGE_SIZE = 100
IDEMPOTENT_METHODS = frozenset({"GET", "PUT", "PATCH", "DELETE"})
# Grafana service-account tokens start with this; they need the stack's URL.
SERVICE_ACCOUNT_PREFIX = "glsa_"
JSONObject = dict[str, Any]
Advice = Callable[[OnCallError], str]
"""Words to add to an error the client raises, telling what to fix ("" for none)."""
_E = TypeVar("_E", bound=OnCallError)


@dataclass(frozen=True)
class RetrySettings:
    """How hard the client tries before giving up. All times are seconds."""

    timeout: float = 30.0
    """Timeout of one HTTP request."""
    max_elapsed: float = 300.0
    """Bound on one operation, including every wait for throttling and backoff."""
    max_attempts: int = 6
    """Attempts per operation for transient failures (5xx, dropped connections)."""
    max_retry_after: float = 120.0
    """Cap on one wait asked for by a 429's Retry-After."""
    backoff_initial: float = 0.5
    backoff_max: float = 10.0


@dataclass
class Throttle:
    """A pause shared by every thread using one client.

    When one request is throttled, all of them wait, so a large deployment sees a
    handful of 429s instead of one per in-flight request.
    """

    _lock: threading.Lock = field(default_factory=threading.Lock)
    _resume_at: float = 0.0
    throttled: int = 0

    def pause(self, seconds: float) -> None:
        with self._lock:
            self.throttled += 1
            self._resume_at = max(self._resume_at, time.monotonic() + seconds)

    def wait(self) -> None:
        while True:
            with self._lock:
                delay = self._resume_at - time.monotonic()
            if delay <= 0:
                return
            time.sleep(delay)


def without_credentials(url: str) -> str:
    """`url` fit for a message: credentials in it (`https://user:pass@host`) masked."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return parts._replace(netloc=f"***@{host}").geturl()


def api_root(url: str) -> str:
    """The API root (`.../api/v1/`) from any common form of the OnCall URL."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigurationError(
            "the OnCall URL must be an http(s) URL such as https://oncall.example.com, got "
            f"{without_credentials(url)!r}"
        )
    path = parts.path.rstrip("/")
    if path.endswith("/api/v1"):
        path = path[: -len("/api/v1")]
    return f"{parts.scheme}://{parts.netloc}{path}/api/v1/"


def render_errors(body: Any, prefix: str = "") -> list[str]:
    """Every error body shape OnCall uses, as `field: message` lines."""
    if isinstance(body, str):
        return [f"{prefix}: {body}" if prefix else body]
    if isinstance(body, list):
        return [line for item in body for line in render_errors(item, prefix)]
    if isinstance(body, dict):
        lines: list[str] = []
        for key, value in body.items():
            if key in ("detail", "non_field_errors"):
                lines.extend(render_errors(value, prefix))
            else:
                lines.extend(render_errors(value, f"{prefix}.{key}" if prefix else key))
        return lines
    return [json.dumps(body)]


def _no_advice(exc: OnCallError) -> str:
    return ""


def _retry_after(response: httpx.Response) -> float:
    for header in ("Retry-After", "RateLimit-Reset"):
        value = response.headers.get(header)
        if value:
            try:
                return max(float(value), 0.0)
            except ValueError:
                continue
    return 1.0


class DeferredTrust(ssl.SSLContext):
    """httpx's default verification (`SSL_CERT_FILE`, else `SSL_CERT_DIR`, else certifi's
    bundle), with the CA certificates loaded at the first TLS handshake rather than when
    the client is made: loading them takes about 50 ms of CPU, which a run against an
    http:// OnCall never needs."""

    _where: tuple[str | None, str | None]
    _lock: threading.Lock
    _loaded: bool

    def __new__(cls) -> DeferredTrust:
        context = super().__new__(cls, ssl.PROTOCOL_TLS_CLIENT)
        # What ssl.create_default_context adds to a client context's own defaults.
        if sys.version_info >= (3, 13):
            context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN | ssl.VERIFY_X509_STRICT
        keylog = os.environ.get("SSLKEYLOGFILE")
        if keylog and not sys.flags.ignore_environment:
            context.keylog_filename = keylog
        # Read now, as httpx does when it makes its context.
        if os.environ.get("SSL_CERT_FILE"):
            context._where = (os.environ["SSL_CERT_FILE"], None)
        elif os.environ.get("SSL_CERT_DIR"):
            context._where = (None, os.environ["SSL_CERT_DIR"])
        else:
            context._where = (None, None)
        context._lock, context._loaded = threading.Lock(), False
        return context

    def __init__(self) -> None:
        pass  # SSLContext takes its protocol in __new__

    def load(self) -> None:
        with self._lock:
            if not self._loaded:
                cafile, capath = self._where
                if cafile is None and capath is None:
                    import certifi  # httpx's own bundle, imported as late as httpx does

                    cafile = certifi.where()
                self.load_verify_locations(cafile=cafile, capath=capath)
                self._loaded = True

    def wrap_socket(self, *args: Any, **kwargs: Any) -> ssl.SSLSocket:
        self.load()
        return super().wrap_socket(*args, **kwargs)

    def wrap_bio(self, *args: Any, **kwargs: Any) -> ssl.SSLObject:
        self.load()
        return super().wrap_bio(*args, **kwargs)


class OnCallClient:
    """A pooled, thread-safe client. One per connection and process (`connection.py`)."""

    def __init__(
        self,
        url: str,
        token: str,
        *,
        retry: RetrySettings | None = None,
        grafana_url: str | None = None,
        verify: bool | str | ssl.SSLContext = True,
        transport: httpx.BaseTransport | None = None,
        advice: Advice | None = None,
    ) -> None:
        if not token:
            raise ConfigurationError("the OnCall token is empty")
        self._api_root = api_root(url)
        # What messages show: never the credentials a URL may carry.
        self.base_url = without_credentials(self._api_root)
        self.grafana_url = grafana_url
        self.retry = retry or RetrySettings()
        self.throttle = Throttle()
        self._advice = advice or _no_advice
        self._token = token
        headers = {"Authorization": token, "User-Agent": USER_AGENT, "Accept": "application/json"}
        if grafana_url:
            # Names the Grafana stack of a service-account token; API keys ignore it.
            headers[GRAFANA_URL_HEADER] = grafana_url
        self._http = httpx.Client(
            base_url=self._api_root,
            headers=headers,
            timeout=self.retry.timeout,
            verify=DeferredTrust() if verify is True else verify,
            transport=transport,
            limits=httpx.Limits(max_connections=8, max_keepalive_connections=8),
        )

    def close(self) -> None:
        self._http.close()

    @property
    def closed(self) -> bool:
        return self._http.is_closed

    def __enter__(self) -> OnCallClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- endpoints -----------------------------------------------------------

    def create_integration(self, body: JSONObject) -> JSONObject:
        """POST once; when the outcome is unknown, look for it before trying again.

        A create is never blindly repeated: after a dropped connection or a 5xx the
        server may have stored it, so it is looked up by name and team first.
        """
        name = body.get("name")
        if not isinstance(name, str) or not name:
            raise ValueError("create_integration needs a name, to recognise its own retries")
        for attempt in self._retrying(_create_outcome_unknown):
            with attempt:
                try:
                    created: JSONObject = self._call("POST", "integrations/", body)
                    return created
                except (TransientError, TLSError) as exc:
                    if not exc.maybe_processed:
                        raise
                    try:
                        found = self.find_integration(name.strip(), body.get("team_id"))
                    except OnCallError as lookup:
                        # Trying again blind could duplicate it: stop here.
                        unknown = OutcomeUnknownError(
                            f"{exc}; whether it was created is unknown, as looking it up "
                            f"failed too ({lookup})",
                            method="POST",
                            path="integrations/",
                        )
                        raise self._scrubbed(self._advised(unknown, ". ")) from None
                    if found is not None:
                        return found
                    raise
        raise AssertionError("unreachable")

    def get_integration(self, integration_id: str) -> JSONObject:
        found: JSONObject = self._request("GET", _item("integrations", integration_id))
        return found

    def update_integration(self, integration_id: str, body: JSONObject) -> JSONObject:
        updated: JSONObject = self._request("PUT", _item("integrations", integration_id), body)
        return updated

    def delete_integration(self, integration_id: str) -> None:
        self._request("DELETE", _item("integrations", integration_id))

    def list_integrations(
        self, *, name: str | None = None, perpage: int = PAGE_SIZE
    ) -> list[JSONObject]:
        params = {"name": name} if name is not None else {}
        return list(self._paginate("integrations/", params, perpage))

    def integrations_page(self, page: int, perpage: int = PAGE_SIZE) -> JSONObject:
        """One page of the list, with `count`, `total_pages` and `current_page_number`."""
        data: JSONObject = self._request(
            "GET", "integrations/", params={"page": page, "perpage": perpage}
        )
        return data

    def list_teams(self) -> list[JSONObject]:
        return list(self._paginate("teams/", {}, PAGE_SIZE))

    def list_escalation_chains(self) -> list[JSONObject]:
        return list(self._paginate("escalation_chains/", {}, PAGE_SIZE))

    def find_integration(self, name: str, team_id: str | None) -> JSONObject | None:
        """The integration with this exact name in this team, if any.

        Filters on team client-side: the server's `team_id` filter crashes.
        """
        for item in self.list_integrations(name=name):
            if item.get("name") == name and item.get("team_id") == team_id:
                return item
        return None

    def list_routes(self, integration_id: str | None = None) -> list[JSONObject]:
        """Routes by position, the default route last; of one integration, or all."""
        params = {"integration_id": integration_id} if integration_id is not None else {}
        return list(self._paginate("routes/", params, PAGE_SIZE))

    def routes_page(self, page: int, perpage: int = PAGE_SIZE) -> JSONObject:
        """One page of the organisation's routes, grouped by integration."""
        data: JSONObject = self._request(
            "GET", "routes/", params={"page": page, "perpage": perpage}
        )
        return data

    def create_route(self, body: JSONObject, known: Collection[str] = ()) -> JSONObject:
        """POST once; when the outcome is unknown, look for it before trying again.

        A route has no name on the server: it is recognised by its integration, regex
        and type, among the routes other than the `known` ones (those that existed, or
        that this caller created, before this POST).
        """
        integration_id = body.get("integration_id")
        if not isinstance(integration_id, str) or not integration_id:
            raise ValueError("create_route needs an integration_id")
        for attempt in self._retrying(_create_outcome_unknown):
            with attempt:
                try:
                    created: JSONObject = self._call("POST", "routes/", body)
                    return created
                except (TransientError, TLSError) as exc:
                    if not exc.maybe_processed:
                        raise
                    try:
                        found = self._find_route(body, set(known))
                    except OnCallError as lookup:
                        unknown = OutcomeUnknownError(
                            f"{exc}; whether the route was created is unknown, as looking it "
                            f"up failed too ({lookup}); run `pulumi up` again: the routes are "
                            "reconciled with what exists",
                            method="POST",
                            path="routes/",
                        )
                        raise self._scrubbed(unknown) from None
                    if found is not None:
                        return found
                    raise
        raise AssertionError("unreachable")

    def _find_route(self, body: JSONObject, known: set[str]) -> JSONObject | None:
        regex = str(body.get("routing_regex") or "").strip()
        kind = body.get("routing_type") or "regex"
        for route in self.list_routes(str(body["integration_id"])):
            if route.get("is_the_last_route") or route.get("id") in known:
                continue
            if (
                route.get("routing_regex") == regex
                and (route.get("routing_type") or "regex") == kind
            ):
                return route
        return None

    def get_route(self, route_id: str) -> JSONObject:
        found: JSONObject = self._request("GET", _item("routes", route_id))
        return found

    def update_route(self, route_id: str, body: JSONObject) -> JSONObject:
        updated: JSONObject = self._request("PUT", _item("routes", route_id), body)
        return updated

    def delete_route(self, route_id: str) -> None:
        self._request("DELETE", _item("routes", route_id))

    # -- plumbing ------------------------------------------------------------

    def _paginate(self, path: str, params: dict[str, Any], perpage: int) -> Iterator[JSONObject]:
        # Paged by number: past the end the server repeats the last page, and its
        # `next` links may point at a proxy's address rather than ours.
        page = 1
        while True:
            data = self._request("GET", path, params={**params, "page": page, "perpage": perpage})
            yield from data.get("results", [])
            total = data.get("total_pages")
            current = data.get("current_page_number", page)
            if data.get("next") is None or (total is not None and current >= total):
                return
            page += 1

    def _retrying(self, predicate: Any) -> tenacity.Retrying:
        settings = self.retry
        backoff = tenacity.wait_exponential_jitter(
            multiplier=settings.backoff_initial,
            max=settings.backoff_max,
            jitter=settings.backoff_initial,
        )

        def wait(state: tenacity.RetryCallState) -> float:
            # Throttled requests wait in the shared Throttle instead.
            exc = state.outcome.exception() if state.outcome else None
            return 0.0 if isinstance(exc, ThrottledError) else backoff(state)

        def stop(state: tenacity.RetryCallState) -> bool:
            elapsed = state.seconds_since_start or 0.0
            if elapsed >= settings.max_elapsed:
                return True
            exc = state.outcome.exception() if state.outcome else None
            if isinstance(exc, ThrottledError):
                # Give up now rather than wait past the operation's budget.
                return elapsed + exc.retry_after > settings.max_elapsed
            return state.attempt_number >= settings.max_attempts

        return tenacity.Retrying(
            retry=tenacity.retry_if_exception(predicate),
            wait=wait,
            stop=stop,
            reraise=True,
        )

    def _request(
        self, method: str, path: str, body: JSONObject | None = None, **kwargs: Any
    ) -> Any:
        """One request, retried where that is safe for `method`."""
        for attempt in self._retrying(lambda exc: _retryable(method, exc)):
            with attempt:
                return self._call(method, path, body, **kwargs)
        raise AssertionError("unreachable")

    def _call(self, method: str, path: str, body: JSONObject | None = None, **kwargs: Any) -> Any:
        """Exactly one HTTP exchange, its answer mapped to data or to an exception."""
        try:
            return self._exchange(method, path, body, **kwargs)
        except OnCallError as exc:
            # Every message here quotes the server, which may echo the request's headers.
            raise self._scrubbed(exc) from None

    def _exchange(
        self, method: str, path: str, body: JSONObject | None = None, **kwargs: Any
    ) -> Any:
        self.throttle.wait()
        where = f"{method} {self.base_url}{path}"
        try:
            response = self._http.request(method, path, json=body, **kwargs)
        except httpx.TransportError as exc:
            raise self._transport_error(exc, method, path, where) from None
        if response.status_code == 429:
            retry_after = min(_retry_after(response), self.retry.max_retry_after)
            self.throttle.pause(retry_after)
            data = self._json(response)
            text = "" if data is _NOT_JSON else "; ".join(render_errors(data))
            throttled = ThrottledError(
                f"{where}: 429 {text or 'throttled'} (retry after {retry_after:g}s)",
                retry_after=retry_after,
                grafana_url=self.grafana_url,
                method=method,
                path=path,
                status=429,
                errors=[] if data is _NOT_JSON else render_errors(data),
            )
            raise self._advised(throttled, ". ")
        if response.status_code == 204:
            return None
        data = self._json(response)
        if response.is_success and data is not _NOT_JSON:
            return data
        raise self._status_error(response, data, method, path, where)

    @staticmethod
    def _json(response: httpx.Response) -> Any:
        if "json" not in response.headers.get("content-type", ""):
            return _NOT_JSON
        try:
            return response.json()
        except ValueError:
            return _NOT_JSON

    def _status_error(
        self, response: httpx.Response, data: Any, method: str, path: str, where: str
    ) -> OnCallError:
        status = response.status_code
        kwargs: dict[str, Any] = {"method": method, "path": path, "status": status}
        if status >= 500:
            text = "" if data is _NOT_JSON else "; ".join(render_errors(data))
            return ServerError(
                self._scrub(f"{where}: {status} server error {text}".rstrip()), **kwargs
            )
        if data is _NOT_JSON:
            kind = response.headers.get("content-type") or "no content type"
            not_api = NotOnCallAPIError(
                f"{where}: {status} answered {kind}, not JSON: the URL is probably not the "
                "OnCall API",
                **kwargs,
            )
            return self._advised(not_api, ". ")
        errors = [self._scrub(line) for line in render_errors(data)]
        text = "; ".join(errors)
        if status == 404:
            return NotFoundError(f"{where}: 404 {text}", errors=errors, **kwargs)
        if status in (401, 403):
            refused = AuthError(
                f"{where}: {status} {text}",
                errors=errors,
                service_account=self._token.startswith(SERVICE_ACCOUNT_PREFIX),
                grafana_url=self.grafana_url,
                resource=path.split("/", 1)[0],
                **kwargs,
            )
            return self._advised(refused, "; ")
        if status == 400:
            return ValidationError(f"{where}: 400 {text}", errors=errors, **kwargs)
        return OnCallError(f"{where}: {status} {text}", errors=errors, **kwargs)

    def _transport_error(
        self, exc: httpx.TransportError, method: str, path: str, where: str
    ) -> TransportError | TLSError:
        cause = self._scrub(str(exc) or type(exc).__name__)
        tls = "SSL" in cause or "CERTIFICATE" in cause.upper()
        not_sent = isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout))
        kind = TLSError if tls else TransportError
        failed = kind("", request_sent=not not_sent, method=method, path=path)
        if tls:
            what = "TLS failed"
        elif not_sent:
            what = "could not connect"
        else:
            what = "the connection failed mid-request"
        hint = self._advice(failed)
        failed.args = (
            f"{where}: {what}{': ' + hint if hint else ''} ({type(exc).__name__}: {cause})",
        )
        return failed

    def _advised(self, exc: _E, separator: str) -> _E:
        """`exc` with the advice for it, if any, after `separator`."""
        hint = self._advice(exc)
        if hint:
            exc.args = (f"{exc}{separator}{hint}",)
        return exc

    def _scrub(self, text: str) -> str:
        for form in self._token_forms:
            text = text.replace(form, "***")
        return text

    @functools.cached_property
    def _token_forms(self) -> list[str]:
        """The token as a server could quote it: raw, JSON- or URL-escaped, unprefixed."""
        raw = self._token.strip()
        bare = raw[7:].strip() if raw[:7].lower() == "bearer " else raw
        forms = {self._token, raw, bare}
        userinfo = urlsplit(self._api_root).netloc.rpartition("@")[0]
        if userinfo:  # credentials in the URL are as secret as the token
            forms.add(userinfo)
        for token in (raw, bare):
            forms.add(json.dumps(token)[1:-1])
            forms.add(json.dumps(token, ensure_ascii=False)[1:-1])
            forms.add(quote(token, safe=""))
            forms.add(repr(token)[1:-1])
        # Longest first, so that no part of a longer form survives a shorter one's pass.
        return sorted((f for f in forms if f), key=len, reverse=True)

    def _scrubbed(self, exc: OnCallError) -> OnCallError:
        """`exc` with the token masked wherever it holds text."""
        exc.args = tuple(self._scrub(a) if isinstance(a, str) else a for a in exc.args)
        exc.errors = [self._scrub(line) for line in exc.errors]
        exc.path = self._scrub(exc.path)
        return exc


_NOT_JSON: Any = object()


def _item(collection: str, item_id: str) -> str:
    # Ids are validated before they get here; escaping keeps any other text inert.
    return f"{collection}/{quote(str(item_id), safe='')}/"


def _retryable(method: str, exc: BaseException) -> bool:
    """Whether repeating `method` after `exc` is safe and may help."""
    if not isinstance(exc, TransientError):
        return False
    # What the server never acted on can be sent again whatever the method.
    return method in IDEMPOTENT_METHODS or not exc.maybe_processed


def _create_outcome_unknown(exc: BaseException) -> bool:
    # Reached only after the lookup found nothing, so a new POST cannot duplicate.
    return isinstance(exc, TransientError)
