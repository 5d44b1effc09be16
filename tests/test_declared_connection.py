"""A `Connection` declared in the program, as the provider receives it: its values in
the resource's inputs. Called directly against the emulator; the CA bundle setting."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi
import pytest
from emulator_seed import TEAM_PLATFORM, TOKEN, VIEWER_TOKEN
from pulumi.runtime.rpc import unwrap_rpc_secret

from pulumi_oncall import Connection, Integration
from pulumi_oncall import _config as config
from pulumi_oncall import _model as model
from pulumi_oncall._exceptions import ConfigurationError, ProgramError
from pulumi_oncall._provider import SECRET_KEYS, IntegrationProvider

SECRET_SIG, SECRET_VALUE = "4dabf18193072939515e22adb298388d", "1b47061264138c4ac30d75fd1eb44270"
WRITES = {"POST", "PUT", "PATCH", "DELETE"}


def unconfigured() -> IntegrationProvider:
    """A provider whose stack config names no OnCall: everything comes from inputs."""
    provider = IntegrationProvider()
    provider.configure_from({"oncall:retryMaxAttempts": "2"}.get, {})
    return provider


def declared(url: str, token: str = TOKEN, **more: str) -> dict[str, str]:
    return {"url": url, "token": token, **more}


def reasons(result: Any) -> str:
    return "\n".join(f"{f.property}: {f.reason}" for f in result.failures)


def api_writes(emulator: Any) -> list[tuple[str, str]]:
    log = emulator.admin("GET", "requests")["requests"]
    return [(r["method"], r["path"]) for r in log if r["method"] in WRITES]


def test_lifecycle_with_declared_values_and_a_rotation_without_writes(emulator: Any) -> None:
    provider = unconfigured()
    news = {
        "type": "webhook",
        "name": "declared",
        "team_id": TEAM_PLATFORM,
        "connection": declared(emulator.url),
        SECRET_KEYS: ["connection"],
    }
    checked = provider.check({}, news)
    assert checked.failures == []  # the team was checked with the declared token
    created = provider.create(checked.inputs)
    assert created.outs["connection"] == declared(emulator.url)

    # The Viewer token can read, not write: an update that wrote would be refused.
    rotated = {**checked.inputs, "connection": declared(emulator.url, VIEWER_TOKEN)}
    diff = provider.diff(created.id, created.outs, rotated)
    assert diff.changes and diff.replaces == []
    emulator.admin("DELETE", "requests")
    updated = provider.update(created.id, created.outs, rotated)
    assert api_writes(emulator) == []
    assert updated.outs["connection"]["token"] == VIEWER_TOKEN  # what destroy will use
    assert provider.read(created.id, updated.outs).id == created.id

    back = {**checked.inputs, "connection": declared(emulator.url)}
    provider.delete(created.id, {**updated.outs, "connection": back["connection"]})
    assert api_writes(emulator) == [("DELETE", f"/api/v1/integrations/{created.id}/")]


def test_diff_replaces_for_another_oncall_only() -> None:
    provider = IntegrationProvider()
    provider.configure_from(
        {"oncall:url": "http://127.0.0.1:9/", "oncall:token": "t"}.get,
        {},
    )
    old = {"type": "webhook", "name": "n", "connection": declared("http://127.0.0.1:9")}

    def diff(connection: Any) -> Any:
        return provider.diff("CX", old, {**old, "connection": connection})

    moved = diff(declared("http://127.0.0.1:10"))
    assert moved.changes and moved.replaces == ["connection"]
    # Not known yet at preview: the token from a resource being replaced, say.
    pending = diff(declared("http://127.0.0.1:9/api/v1/", model.UNKNOWN))
    assert pending.changes and pending.replaces == []
    # From a declared connection to the same OnCall in config: no replacement.
    to_config = diff(None)
    assert to_config.changes and to_config.replaces == []
    assert provider.diff("CX", old, old).changes is False
    assert diff(declared(model.UNKNOWN)).replaces == ["connection"]


def test_check_names_what_is_missing_and_never_shows_the_token(tmp_path: Path) -> None:
    provider = unconfigured()
    token = "never-shown-5e1d0b"

    def failures(connection: dict[str, Any]) -> str:
        news = {"type": "webhook", "connection": connection, SECRET_KEYS: ["connection"]}
        text = reasons(provider.check({}, news))
        assert token not in text
        return text

    text = failures({"url": "https://oncall.example.com"})
    assert "the Connection is missing the OnCall API token: pass token= to " in text
    assert "pulumi_oncall.Connection" in text
    text = failures({"token": token})
    assert "the OnCall API URL: pass url= to pulumi_oncall.Connection" in text
    assert "url of the Connection must be an http(s) URL" in failures({"url": "x", "token": token})
    missing = tmp_path / "no-such-ca.pem"
    text = failures(declared("https://oncall.example.com", token, ca_bundle=str(missing)))
    assert f"no file at {missing}" in text and "ca_bundle of the Connection" in text
    assert failures(declared("http://h", token, extra="x")).count("unknown value(s) extra") == 1
    # Values not known yet (preview): nothing to check, no failure.
    assert failures(declared("https://oncall.example.com", model.UNKNOWN)) == ""


def test_ca_bundle_in_config(tmp_path: Path) -> None:
    base = {"oncall:url": "https://oncall.example.com", "oncall:token": "t"}

    def load(values: dict[str, Any], name: str | None = None) -> config.Settings:
        return config.load(values.get, {}, name)

    with pytest.raises(ConfigurationError, match=f"oncall:caBundle: no file at {tmp_path}/x.pem"):
        load({**base, "oncall:caBundle": str(tmp_path / "x.pem")})
    not_pem = tmp_path / "not.pem"
    not_pem.write_text("hello")
    with pytest.raises(ConfigurationError, match="holds no PEM CA certificate"):
        load({**base, "oncall:caBundle": str(not_pem)})
    named = {"oncall:connections": {"corp": {"url": "https://o", "token": "t", "caBundle": "/x"}}}
    with pytest.raises(ConfigurationError, match=r"oncall:connections\.corp\.caBundle: no file"):
        load(named, "corp")
    assert load(base).ca_bundle is None


class Mocks(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.registered: list[pulumi.runtime.MockResourceArgs] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.registered.append(args)
        return f"{args.name}-id", args.inputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        return {}


def test_the_program_sends_the_values_with_the_token_a_secret() -> None:
    mocks = Mocks()
    pulumi.runtime.set_mocks(mocks, project="p", stack="s", preview=False)
    seen: list[Any] = []

    @pulumi.runtime.test
    def program() -> pulumi.Output[Any]:
        conn = Connection(url="https://oncall.example.com", token="plain-token", ca_bundle="ca.pem")
        integration = Integration("i", type="webhook", connection=conn)
        return pulumi.Output.all(integration.connection, integration.id).apply(seen.extend)

    program()
    (args,) = mocks.registered
    wire = args.inputs["connection"]
    assert wire[SECRET_SIG] == SECRET_VALUE  # a secret on the wire, so in the state
    sent = unwrap_rpc_secret(wire)
    assert sent["url"] == "https://oncall.example.com" and sent["token"] == "plain-token"
    assert sent["ca_bundle"] == str(Path("ca.pem").absolute())
    assert args.inputs[SECRET_KEYS] == ["connection"]
    assert seen[1] == "i-id"


def test_two_connections_to_one_oncall_cannot_declare_one_integration() -> None:
    pulumi.runtime.set_mocks(Mocks(), project="p", stack="s", preview=False)
    failures: list[str] = []

    @pulumi.runtime.test
    def program() -> None:
        one = Connection(url="https://oncall.example.com", token="a")
        other = Connection(url="https://OnCall.example.com/", token="b")
        elsewhere = Connection(url="https://oncall.example.org", token="c")
        Integration("first", type="webhook", name="Same", connection=one)
        Integration("third", type="webhook", name="Same", connection=elsewhere)  # allowed
        try:
            Integration("second", type="webhook", name="Same", connection=other)
        except ProgramError as exc:
            failures.append(str(exc))

    program()
    (message,) = failures
    assert "integrations 'first' and 'second' both declare the name 'Same' in no team" in message
    assert "token=***" in message and "'a'" not in message and "'b'" not in message


def test_a_plain_lookup_cannot_wait_for_outputs() -> None:
    from pulumi_oncall import LookupFailed, get_team

    conn = Connection(url=pulumi.Output.from_input("https://o"), token="t")
    with pytest.raises(LookupFailed, match="use the lookup's _output twin"):
        get_team("platform", connection=conn)


def test_a_plain_lookup_with_plain_values(emulator: Any) -> None:
    from pulumi_oncall import get_team

    found = get_team("platform", connection=Connection(url=emulator.url, token=TOKEN))
    assert found.id == TEAM_PLATFORM
