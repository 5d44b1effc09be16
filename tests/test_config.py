"""Settings resolution, called directly: the default connection, named ones, tokens."""

from __future__ import annotations

import json
from typing import Any

import pytest
from emulator_seed import TOKEN

from pulumi_oncall import _config as config
from pulumi_oncall import _connection as connection
from pulumi_oncall._exceptions import ConfigurationError
from pulumi_oncall._provider import IntegrationProvider

STAGING = {
    "url": "https://staging.example.com",
    "token": "glsa_staging",
    "grafanaUrl": "https://s.grafana.net/",
}


def getter(**values: Any) -> config.Getter:
    return {k.replace("__", ":"): v for k, v in values.items()}.get


def test_default_connection_reads_config_then_environment() -> None:
    settings = config.load(
        getter(oncall__url="https://oncall.example.com"),
        {"GRAFANA_ONCALL_ACCESS_TOKEN": "s3cr3t-9f2", "GRAFANA_URL": "https://x.grafana.net"},
    )
    assert (settings.url, settings.token) == ("https://oncall.example.com", "s3cr3t-9f2")
    assert settings.grafana_url == "https://x.grafana.net"
    assert "s3cr3t-9f2" not in repr(settings)


@pytest.mark.parametrize("raw", [STAGING, json.dumps(STAGING)])
def test_named_connection_from_structured_config(raw: Any) -> None:
    conns = {"staging": raw} if isinstance(raw, dict) else json.dumps({"staging": STAGING})
    settings = config.load(getter(oncall__connections=conns), {}, "staging")
    assert settings.url == STAGING["url"] and settings.token == "glsa_staging"
    assert settings.grafana_url == "https://s.grafana.net"  # trailing slash dropped
    assert settings.keys.token == "oncall:connections.staging.token"


def test_named_connections_never_fall_back_to_the_environment() -> None:
    env = {"GRAFANA_ONCALL_URL": "https://env", "GRAFANA_ONCALL_ACCESS_TOKEN": "env-token"}
    conns = {"staging": {"url": "https://staging"}}
    with pytest.raises(ConfigurationError) as info:
        config.load(getter(oncall__connections=conns), env, "staging")
    message = str(info.value)
    assert "connection 'staging'" in message
    assert "pulumi config set --secret --path oncall:connections.staging.token" in message
    assert "GRAFANA_ONCALL_ACCESS_TOKEN" not in message


def test_a_missing_connection_is_named_with_the_configured_ones() -> None:
    conns = {"prod": STAGING, "dr": STAGING}
    with pytest.raises(ConfigurationError) as info:
        config.load(getter(oncall__connections=conns), {}, "staging")
    message = str(info.value)
    assert "connection 'staging' is not configured (configured: 'dr', 'prod')" in message
    assert "--path oncall:connections.staging.url" in message


def test_a_typo_in_a_connection_entry_is_refused() -> None:
    with pytest.raises(ConfigurationError, match=r"unknown key.*tokn"):
        config.load(getter(oncall__connections={"s": {"url": "https://u", "tokn": "t"}}), {}, "s")


def test_service_account_token_needs_the_grafana_url() -> None:
    with pytest.raises(ConfigurationError) as info:
        config.load(getter(oncall__url="https://u", oncall__token="glsa_abc"), {})
    assert "pulumi config set oncall:grafanaUrl https://mystack.grafana.net" in str(info.value)
    assert "GRAFANA_URL" in str(info.value)
    assert "glsa_abc" not in str(info.value)


def test_grafana_url_must_be_a_url() -> None:
    with pytest.raises(ConfigurationError, match=r"oncall:grafanaUrl .* must be the Grafana stack"):
        config.load(
            getter(oncall__url="https://u", oncall__token="t", oncall__grafanaUrl="mystack"), {}
        )


@pytest.mark.parametrize("given", ["Bearer abc", "bearer abc", "  abc  "])
def test_a_bearer_prefix_is_dropped(given: str) -> None:
    assert config.load(getter(oncall__url="https://u", oncall__token=given), {}).token == "abc"


def test_each_connection_has_its_own_client() -> None:
    conns = {"a": {"url": "https://u", "token": "t"}, "b": {"url": "https://u", "token": "t"}}
    get = getter(oncall__connections=conns)
    a, b = (connection.connect(config.load(get, {}, n)).client for n in ("a", "b"))
    assert a is not b and a.throttle is not b.throttle
    assert connection.connect(config.load(get, {}, "a")).client is a


def provider_with(connections: dict[str, Any], **extra: str) -> IntegrationProvider:
    provider = IntegrationProvider()
    provider.configure_from(getter(oncall__connections=json.dumps(connections), **extra), {})
    return provider


def test_check_fails_on_an_unknown_connection_before_any_call() -> None:
    provider = provider_with({"prod": {"url": "http://127.0.0.1:9", "token": TOKEN}})
    (failure,) = provider.check(
        {}, {"type": "webhook", "name": "x", "connection": "staging"}
    ).failures
    assert failure.property == "connection" and "'staging' is not configured" in failure.reason


def test_moving_to_another_oncall_replaces_creating_first() -> None:
    provider = provider_with(
        {
            "a": {"url": "https://one.example.com", "token": "t"},
            "a2": {"url": "https://one.example.com/api/v1/", "token": "t2"},
            "b": {"url": "https://two.example.com", "token": "t"},
        }
    )
    olds = {"type": "webhook", "name": "x", "connection": "a"}
    moved = provider.diff("C1", olds, {**olds, "connection": "b"})
    assert moved.changes and moved.replaces == ["connection"]
    assert moved.delete_before_replace is False
    renamed = provider.diff("C1", olds, {**olds, "connection": "a2"})  # same OnCall
    assert renamed.changes and renamed.replaces == []
    to_default = provider.diff("C1", olds, {**olds, "connection": None})  # not configured
    assert to_default.replaces == ["connection"]
