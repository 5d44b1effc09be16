"""No error the client raises quotes its token, whatever the server echoes back.

A real HTTP server process on 127.0.0.1 answers every request with the status and
body shape its URL asks for, quoting the request's headers (Authorization and
X-Grafana-URL among them) in the body, the content type or the status line.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from pulumi_oncall._client import OnCallClient, RetrySettings
from pulumi_oncall._exceptions import (
    AuthError,
    NotFoundError,
    NotOnCallAPIError,
    OnCallError,
    OutcomeUnknownError,
    ServerError,
    ThrottledError,
    TransportError,
    ValidationError,
)

# GET /<status>/<shape>/api/v1/...: answer <status> with the headers in a <shape> body.
ECHO_SERVER = r"""
import http.server, json, sys

class Echo(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        _, status, shape, *_ = self.path.split("?")[0].split("/")
        headers = dict(self.headers.items())
        quoted = json.dumps(headers)
        auth = headers.get("Authorization", "")
        if shape == "status-line":
            # Not a status line at all: the client's HTTP parser quotes it.
            self.wfile.write(f"HTTP/1.1 Authorization: {auth}\r\n\r\n".encode())
            self.close_connection = True
            return
        kind = "application/json"
        if shape == "detail":
            words = "Invalid token." if status in ("401", "403") else "echo"
            body = {"detail": f"{words} {auth} sent with {quoted}"}
        elif shape == "synced":
            body = {"detail": f"Organization being synced, please retry. ({auth})"}
        elif shape == "fields":
            body = {auth: [auth], "headers": headers, "raw": quoted}
        elif shape == "list":
            body = [f"{k}: {v}" for k, v in headers.items()] + [{"nested": [auth]}]
        else:
            kind = "text/html; echo=" + auth.replace(";", "")
            body = f"<html><body><pre>{quoted}</pre></body></html>"
        data = (body if isinstance(body, str) else json.dumps(body)).encode()
        self.send_response(int(status))
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Retry-After", "0.05")
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = answer

server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Echo)
print(server.server_address[1], flush=True)
server.serve_forever()
"""

STATUSES = (400, 401, 403, 404, 409, 429, 500, 502, 503)
JSON_SHAPES = ("detail", "fields", "list")
GRAFANA = "https://echo-stack.grafana.net"
# A plain API key, one a server must escape to quote in JSON, and a service account's.
TOKENS = ("echo-api-key-5e1f07", 'echo-"quoted"\\slashed-9a', "glsa_echo_sa_3c2d81")
# Short retries: a 429 is retried until max_elapsed, other failures max_attempts times.
FAST = RetrySettings(
    timeout=5, max_elapsed=0.3, max_attempts=2, backoff_initial=0.01, backoff_max=0.02
)


@pytest.fixture(scope="module")
def echo_server() -> Iterator[str]:
    proc = subprocess.Popen([sys.executable, "-c", ECHO_SERVER], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def forms(token: str) -> list[str]:
    """The token and the forms a server could quote it in."""
    return [token, json.dumps(token)[1:-1], repr(token)[1:-1]]


def operations(client: OnCallClient) -> dict[str, Callable[[], Any]]:
    return {
        "get": lambda: client.get_integration("CECHO"),
        "list": client.list_integrations,
        "update": lambda: client.update_integration("CECHO", {"description_short": "x"}),
        "create": lambda: client.create_integration({"type": "webhook", "name": "echo"}),
        "delete": lambda: client.delete_integration("CECHO"),
    }


def expected_class(status: int, shape: str, operation: str) -> type[OnCallError]:
    if shape == "status-line":
        return OutcomeUnknownError if operation == "create" else TransportError
    if status == 429:
        return ThrottledError
    if status >= 500:
        return OutcomeUnknownError if operation == "create" else ServerError
    if shape == "html":
        return NotOnCallAPIError
    by_status: dict[int, type[OnCallError]] = {
        400: ValidationError,
        401: AuthError,
        403: AuthError,
        404: NotFoundError,
    }
    return by_status.get(status, OnCallError)


def raised(echo_server: str, token: str, status: int, shape: str, operation: str) -> OnCallError:
    grafana = GRAFANA if token.startswith("glsa_") else None
    url = f"{echo_server}/{status}/{shape}"
    with (
        OnCallClient(url, token, retry=FAST, grafana_url=grafana) as client,
        pytest.raises(OnCallError) as info,
    ):
        operations(client)[operation]()
    exc = info.value
    assert type(exc) is expected_class(status, shape, operation), repr(exc)
    return exc


def assert_masked(exc: OnCallError, token: str) -> None:
    texts = [str(exc), repr(exc), *exc.errors, exc.path, *map(str, exc.args)]
    for text in texts:
        for form in forms(token):
            assert form not in text, text


@pytest.mark.parametrize("token", TOKENS, ids=["api-key", "escaped", "service-account"])
@pytest.mark.parametrize("operation", ["get", "list", "create"])
@pytest.mark.parametrize("shape", JSON_SHAPES)
@pytest.mark.parametrize("status", STATUSES)
def test_json_answers_never_quote_the_token(
    echo_server: str, status: int, shape: str, operation: str, token: str
) -> None:
    exc = raised(echo_server, token, status, shape, operation)
    assert_masked(exc, token)
    # The echo did reach the message, masked: the test sees what a user would.
    assert "***" in str(exc) and "User-Agent" in str(exc)


@pytest.mark.parametrize("token", TOKENS, ids=["api-key", "escaped", "service-account"])
@pytest.mark.parametrize("operation", ["get", "create"])
@pytest.mark.parametrize("status", STATUSES)
def test_non_json_answers_never_quote_the_token(
    echo_server: str, status: int, operation: str, token: str
) -> None:
    exc = raised(echo_server, token, status, "html", operation)
    assert_masked(exc, token)
    if status < 500 and status != 429:
        # The content type, echoing the token, is quoted as what was answered.
        assert "text/html; echo=***" in str(exc)


@pytest.mark.parametrize("token", TOKENS, ids=["api-key", "escaped", "service-account"])
@pytest.mark.parametrize("operation", ["get", "create"])
def test_a_malformed_answer_never_quotes_the_token(
    echo_server: str, operation: str, token: str
) -> None:
    exc = raised(echo_server, token, 200, "status-line", operation)
    assert_masked(exc, token)
    assert "illegal status line" in str(exc) and "Authorization: ***" in str(exc)


@pytest.mark.parametrize("token", TOKENS, ids=["api-key", "escaped", "service-account"])
def test_a_429_and_its_sync_hint_never_quote_the_token(echo_server: str, token: str) -> None:
    exc = raised(echo_server, token, 429, "synced", "get")
    assert isinstance(exc, ThrottledError) and exc.retry_after == 0.05
    assert_masked(exc, token)
    assert "being synced" in str(exc) and "(***)" in str(exc)


def test_a_bearer_prefixed_token_is_masked_with_and_without_its_prefix(echo_server: str) -> None:
    token = "echo-bearer-token-71aa"
    exc = raised(echo_server, "Bearer " + token, 403, "detail", "get")
    assert_masked(exc, token)
    assert "Invalid token. *** sent with" in str(exc)
