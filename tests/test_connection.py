"""Connections (one per process and settings) and the error tree, over real HTTP."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pulumi
import pytest
from emulator_seed import TEAM_PLATFORM, TOKEN, VIEWER_TOKEN

from pulumi_oncall import LookupFailed, get_team
from pulumi_oncall import _config as config
from pulumi_oncall import _connection as connection
from pulumi_oncall import _exceptions as exceptions
from pulumi_oncall._client import OnCallClient, RetrySettings, _retryable
from pulumi_oncall._exceptions import (
    AuthError,
    OnCallError,
    ProgramError,
    ServerError,
    ThrottledError,
    TLSError,
    TransientError,
    TransportError,
)
from pulumi_oncall._program_checks import plain_problems
from pulumi_oncall._provider import IntegrationProvider
from pulumi_oncall.emulator import EmulatorProcess

PACKAGE = Path(__file__).resolve().parents[1] / "pulumi_oncall"
FAST = RetrySettings(timeout=5, max_elapsed=10, max_attempts=1)


@pytest.fixture(autouse=True)
def fresh_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # Connections outlive tests in one process; each test here starts with none.
    monkeypatch.setattr(connection, "_connections", {})
    yield


def settings(url: str, token: str = TOKEN, name: str | None = None) -> config.Settings:
    if name is None:
        values: dict[str, Any] = {"oncall:url": url, "oncall:token": token}
    else:
        values = {"oncall:connections": {name: {"url": url, "token": token}}}
    values["oncall:retryMaxAttempts"] = "1"
    return config.load(values.get, {}, name)


def requests_to(emu: EmulatorProcess, collection: str) -> int:
    log = emu.admin("GET", "requests")["requests"]
    return sum(1 for r in log if r["path"].startswith(f"/api/v1/{collection}/"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_one_connection_per_settings_and_a_new_token_is_a_new_one(
    emulator: EmulatorProcess,
) -> None:
    first = connection.connect(settings(emulator.url))
    assert connection.connect(settings(emulator.url)) is first
    assert [t["id"] for t in first.teams.get()].count(TEAM_PLATFORM) == 1
    first.teams.get()
    assert requests_to(emulator, "teams") == 1  # listed once per connection
    rotated = connection.connect(settings(emulator.url, VIEWER_TOKEN))
    assert rotated is not first and rotated.client is not first.client
    assert rotated.client.throttle is not first.client.throttle
    rotated.teams.get()
    assert requests_to(emulator, "teams") == 2  # nothing learnt under the old token


def test_a_closed_client_is_replaced_by_a_new_connection(emulator: EmulatorProcess) -> None:
    first = connection.connect(settings(emulator.url))
    first.client.close()
    again = connection.connect(settings(emulator.url))
    assert again is not first and not again.client.closed
    assert again.client.list_integrations() == []


def test_the_provider_goes_through_the_registry(emulator: EmulatorProcess) -> None:
    provider = IntegrationProvider()
    provider.configure_from({"oncall:url": emulator.url, "oncall:token": TOKEN}.get, {})
    used = provider.connection(None)
    assert used is connection.connect(provider.settings(None))
    assert provider.client() is used.client
    created = provider.create({"type": "webhook", "name": "through-the-connection"})
    assert created.id
    provider.configure_from({"oncall:url": emulator.url, "oncall:token": VIEWER_TOKEN}.get, {})
    assert provider.connection(None) is not used  # a rotation takes a new connection


def test_the_client_alone_names_no_setting(emulator: EmulatorProcess) -> None:
    with (
        OnCallClient(emulator.url, "wrong-token", retry=FAST) as bare,
        pytest.raises(AuthError) as refused,
    ):
        bare.list_integrations()
    assert "Invalid token" in str(refused.value)
    assert "oncall:" not in str(refused.value) and "pulumi config" not in str(refused.value)
    with (
        OnCallClient(f"http://127.0.0.1:{free_port()}", TOKEN, retry=FAST) as bare,
        pytest.raises(TransportError) as unreachable,
    ):
        bare.list_integrations()
    assert "could not connect" in str(unreachable.value)
    assert "oncall:" not in str(unreachable.value)


def test_a_connection_names_its_own_keys(emulator: EmulatorProcess) -> None:
    named = connection.connect(settings(emulator.url, "wrong-token", name="ops"))
    with pytest.raises(AuthError) as refused:
        named.client.list_integrations()
    assert "check oncall:connections.ops.token (the raw API token" in str(refused.value)
    assert "GRAFANA_ONCALL_ACCESS_TOKEN" not in str(refused.value)  # named ones ignore it
    away = connection.connect(settings(f"http://127.0.0.1:{free_port()}", name="ops"))
    with pytest.raises(TransportError) as unreachable:
        away.client.list_integrations()
    assert "check oncall:connections.ops.url and that OnCall is reachable" in str(unreachable.value)
    bad = settings("ftp://oncall.example.com", name="ops")
    with pytest.raises(exceptions.ConfigurationError, match=r"^oncall:connections\.ops\.url must"):
        connection.connect(bad)


def test_lookups_reach_oncall_through_one_connection(
    emulator: EmulatorProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in ("GRAFANA_ONCALL_URL", "GRAFANA_ONCALL_ACCESS_TOKEN", "GRAFANA_URL"):
        monkeypatch.delenv(key, raising=False)
    stack = {"oncall:url": emulator.url, "oncall:token": TOKEN}
    monkeypatch.setenv("PULUMI_CONFIG", json.dumps(stack))
    assert get_team("platform").id == TEAM_PLATFORM
    assert get_team("database").id != TEAM_PLATFORM
    assert requests_to(emulator, "teams") == 1
    assert connection.from_program() is connection.connect(config.load(stack.get, {}))
    with pytest.raises(LookupFailed) as missing:
        get_team("platfrom")
    assert "did you mean 'platform'?" in str(missing.value)
    monkeypatch.setenv("PULUMI_CONFIG", json.dumps({"oncall:url": emulator.url}))
    monkeypatch.delenv("PULUMI_CONFIG_ONCALL_TOKEN", raising=False)
    with pytest.raises(LookupFailed, match="set the OnCall API token") as unset:
        get_team("platform")
    assert isinstance(unset.value, OnCallError) and isinstance(unset.value, pulumi.RunError)


def test_every_error_is_under_one_root_and_drawn_in_the_tree() -> None:
    classes = [
        getattr(exceptions, name)
        for name in (*vars(exceptions), "ProgramError", "LookupFailed")
        if isinstance(getattr(exceptions, name), type)
        and issubclass(getattr(exceptions, name), BaseException)
        and getattr(exceptions, name).__module__ == exceptions.__name__
    ]
    assert len({c.__name__ for c in classes}) >= 16
    tree = exceptions.__doc__ or ""
    for cls in classes:
        assert issubclass(cls, OnCallError), cls
        assert f" {cls.__name__} " in tree, f"{cls.__name__} is not drawn in the tree"
    assert issubclass(exceptions.LookupFailed, ProgramError)
    assert issubclass(ProgramError, pulumi.RunError)
    assert issubclass(exceptions.SampleError, ValueError)
    transient = {c for c in classes if issubclass(c, TransientError)}
    assert transient == {TransientError, ThrottledError, ServerError, TransportError}
    assert exceptions.LookupFailed is LookupFailed  # built once, exported as before


def test_the_error_module_imports_no_pulumi() -> None:
    # As the render process loads it: the package without its __init__.
    script = (
        "import sys, types\n"
        "package = types.ModuleType('pulumi_oncall')\n"
        f"package.__path__ = [{str(PACKAGE)!r}]\n"
        "sys.modules['pulumi_oncall'] = package\n"
        "from pulumi_oncall._exceptions import SampleError\n"
        "assert issubclass(SampleError, ValueError)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pulumi', 'grpc')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize(
    "exc, method, retried",
    [
        (ThrottledError("", retry_after=1), "POST", True),  # never processed
        (ServerError(""), "GET", True),
        (ServerError(""), "POST", False),  # may have been stored
        (TransportError("", request_sent=False), "POST", True),  # never seen
        (TransportError("", request_sent=True), "POST", False),
        (TransportError("", request_sent=True), "PUT", True),
        (TLSError("", request_sent=False), "GET", False),  # no retry can help
        (AuthError(""), "GET", False),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, Exception) else str(v),
)
def test_the_retry_policy_follows_the_transient_base(
    exc: OnCallError, method: str, retried: bool
) -> None:
    assert _retryable(method, exc) is retried


def test_program_checks_stop_with_a_program_error() -> None:
    with pytest.raises(ProgramError, match=r"labels\['env'\] is None") as info:
        plain_problems("am", {"labels": {"env": None}})
    assert isinstance(info.value, pulumi.RunError)
