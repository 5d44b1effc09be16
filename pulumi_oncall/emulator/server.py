"""Serving the app with werkzeug's threaded server until SIGTERM or SIGINT."""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from .app import create_app
from .constants import LISTENING
from .state import EmulatorConfig, EmulatorState


class QuietRequestHandler(WSGIRequestHandler):
    """No per-request access log line."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


def _url(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def build_server(
    host: str, port: int, config: EmulatorConfig
) -> tuple[BaseWSGIServer, EmulatorState, str]:
    """A bound, not yet serving, server with its state and URL. Port 0 picks a free port."""
    state = EmulatorState(config)
    handler = WSGIRequestHandler if config.access_log else QuietRequestHandler
    try:
        server = make_server(host, port, create_app(state), threaded=True, request_handler=handler)
    except BaseException:
        state.store.close()
        raise
    url = _url(host, server.server_port)
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
