"""Bad input and bad settings, through the real engine: one clear error each.

Each error must name the resource and what to fix, carry no traceback and never the
token.
"""

from __future__ import annotations

import http.server
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e_support import OnCall, Project
from emulator_seed import TOKEN, VIEWER_TOKEN

SECRET_TOKEN = "do-not-print-this-token-7f3a"


def assert_clean_failure(project: Project, *expected: str, command: str = "up") -> str:
    args = ["up", "--yes", "--skip-preview"] if command == "up" else [command]
    proc = project.run(*args, check=False)
    text = proc.stdout + proc.stderr
    assert proc.returncode != 0, text
    for fragment in expected:
        assert fragment in text, f"{fragment!r} missing from:\n{text}"
    assert "Traceback" not in text, text
    for token in (TOKEN, VIEWER_TOKEN, SECRET_TOKEN):
        assert token not in text
    return text


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[str]:
    """An HTTPS server on 127.0.0.1 whose certificate nobody trusts."""
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


ONE = {"am": {"type": "alertmanager", "name": "Alertmanager"}}


def project_for(tmp_path: Path, url: str, token: str = TOKEN) -> Project:
    project = Project(tmp_path, url, token=token)
    project.run("config", "set", "oncall:retryMaxAttempts", "2")
    project.spec(ONE)
    return project


def test_wrong_url_answering_html(tmp_path: Path, emulator: Any) -> None:
    project = project_for(tmp_path, emulator.url + "/grafana/a/grafana-oncall-app")
    assert_clean_failure(project, "(am)", "probably not the OnCall API", "oncall:url")


def test_wrong_token(tmp_path: Path, emulator: Any) -> None:
    project = project_for(tmp_path, emulator.url, token=SECRET_TOKEN)
    assert_clean_failure(project, "(am)", "'Alertmanager'", "Invalid token", "oncall:token")


def test_viewer_token(tmp_path: Path, emulator: Any) -> None:
    project = project_for(tmp_path, emulator.url, token=VIEWER_TOKEN)
    assert_clean_failure(project, "(am)", "permission", "Admin role")


def test_unreachable_host(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    project = project_for(tmp_path, f"http://127.0.0.1:{port}")
    assert_clean_failure(project, "(am)", "could not connect", "oncall:url")


def test_tls_failure(tmp_path: Path, tls_server: str) -> None:
    project = project_for(tmp_path, tls_server)
    assert_clean_failure(project, "(am)", "TLS failed", "CERTIFICATE_VERIFY_FAILED")


def test_missing_settings_fail_the_preview(tmp_path: Path, emulator: Any) -> None:
    project = project_for(tmp_path, emulator.url)
    project.run("config", "rm", "oncall:url")
    project.env.pop("GRAFANA_ONCALL_URL", None)
    assert_clean_failure(project, "(am)", "oncall:url", "GRAFANA_ONCALL_URL", command="preview")


@pytest.mark.parametrize(
    "args, expected",
    [
        ({"type": "grafana_alerting"}, "Failed to create the integration"),
        ({"default_route": {"slack": {"channel_id": "CSLACK"}}}, "Slack isn't connected"),
        ({"templates": {"msteams": {"title": "x"}}}, "templates.msteams.title"),
    ],
    ids=["grafana-unreachable", "slack-not-connected", "cloud-only"],
)
def test_server_refusals_name_the_integration_and_field(
    tmp_path: Path, emulator: Any, args: dict[str, Any], expected: str
) -> None:
    emulator.admin("PUT", "settings", {"slack_connected": False})
    project = project_for(tmp_path, emulator.url)
    project.spec({"am": {**ONE["am"], **args}})
    assert_clean_failure(project, "(am)", "'Alertmanager'", expected)
    assert OnCall(emulator.url).live() == {}  # nothing half-created


@pytest.mark.parametrize(
    "args, expected",
    [
        ({"team_id": "TNOSUCHTEAM"}, "property team_id value {TNOSUCHTEAM} has a problem"),
        (
            {"default_route": {"escalation_chain_id": "FNOSUCHCHAIN"}},
            "no escalation chain with id 'FNOSUCHCHAIN'",
        ),
    ],
    ids=["team", "escalation-chain"],
)
def test_missing_references_fail_the_preview(
    tmp_path: Path, emulator: Any, args: dict[str, Any], expected: str
) -> None:
    project = project_for(tmp_path, emulator.url)
    project.spec({"am": {**ONE["am"], **args}})
    assert_clean_failure(project, "(am)", expected, "existing:", command="preview")
    assert OnCall(emulator.url).live() == {}


def test_name_taken_by_a_different_integration(tmp_path: Path, emulator: Any) -> None:
    oncall = OnCall(emulator.url)
    theirs = oncall.create({"type": "webhook", "name": "Alertmanager"})
    project = project_for(tmp_path, emulator.url)
    assert_clean_failure(
        project, "(am)", "already exists", f"import_id={theirs['id']!r}", "another name="
    )
    assert list(oncall.live()) == ["Alertmanager"]
    assert oncall.get(theirs["id"]).json()["type"] == "webhook"  # not taken over
