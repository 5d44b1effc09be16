"""Serving the app with werkzeug's threaded server until SIGTERM or SIGINT."""

from __future__ import annotations

import ipaddress
import signal
import ssl
import sys
import threading
from types import FrameType
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from .app import create_app
from .constants import ADMIN_HEADER, ADMIN_PREFIX, ADMIN_SECRET_ENV, LISTENING
from .state import EmulatorConfig, EmulatorState


class QuietRequestHandler(WSGIRequestHandler):
    """No per-request access log line."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


class ExposedAdminError(ValueError):
    """The emulator would listen beyond this machine with its admin routes open."""


def is_loopback(host: str) -> bool:
    """Whether `host` is reachable from this machine only: 127.0.0.0/8, ::1, localhost."""
    name = host.strip().rstrip(".").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name.removeprefix("[").removesuffix("]")).is_loopback
    except ValueError:
        return False  # another name, or "" (every interface)


def check_exposure(host: str, config: EmulatorConfig) -> None:
    """Refuse, before anything is bound, to open the admin routes beyond loopback."""
    if config.admin_secret or is_loopback(host):
        return
    raise ExposedAdminError(
        f"--host {host!r} is not a loopback address, and the admin endpoints "
        f"({ADMIN_PREFIX}...: reset, faults, seeding, the request log) would be open to "
        f"anyone who can reach it; set a secret in ${ADMIN_SECRET_ENV} (or --admin-secret), "
        f"which admin requests then send as {ADMIN_HEADER}"
    )


def _url(host: str, port: int, scheme: str = "http") -> str:
    return f"{scheme}://[{host}]:{port}" if ":" in host else f"{scheme}://{host}:{port}"


def tls_context(cert: str, key: str) -> ssl.SSLContext:
    """A server context from PEM files; OSError (ssl.SSLError) when they do not load."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


def build_server(
    host: str, port: int, config: EmulatorConfig
) -> tuple[BaseWSGIServer, EmulatorState, str]:
    """A bound, not yet serving, server with its state and URL. Port 0 picks a free port.

    Raises ExposedAdminError for a non-loopback `host` without an admin secret.
    """
    check_exposure(host, config)
    state = EmulatorState(config)
    handler = WSGIRequestHandler if config.access_log else QuietRequestHandler
    try:
        tls = tls_context(config.tls_cert, config.tls_key or "") if config.tls_cert else None
        server = make_server(
            host,
            port,
            create_app(state),
            threaded=True,
            request_handler=handler,
            ssl_context=tls,
        )
    except BaseException:
        state.store.close()
        raise
    url = _url(host, server.server_port, "https" if tls else "http")
    if not state.public_url:
        state.public_url = url
    return server, state, url


def serve(host: str, port: int, config: EmulatorConfig) -> None:
    server, state, url = build_server(host, port, config)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> Any:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    # A short poll interval makes shutdown() prompt.
    thread = threading.Thread(
        target=server.serve_forever, args=(0.05,), name="oncall-emulator", daemon=True
    )
    thread.start()
    print(f"{LISTENING} {url}", flush=True)
    try:
        # wait() with a timeout so that signals are handled promptly.
        while not stop.wait(0.5):
            if not thread.is_alive():
                sys.exit("oncall-emulator: the server thread died")
    finally:
        server.shutdown()
        server.server_close()
        state.store.close()
