"""Grafana service-account answers, rendered by the client against a Cloud-flavoured emulator."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
from emulator_seed import CLOUD_API_KEY as API_KEY
from emulator_seed import GRAFANA_STACK as STACK
from emulator_seed import SA_TOKEN, SA_VIEWER, SEED

from pulumi_oncall import _config as config
from pulumi_oncall import _connection as connection
from pulumi_oncall._client import OnCallClient, RetrySettings
from pulumi_oncall._exceptions import AuthError, ThrottledError
from pulumi_oncall._provider import IntegrationProvider
from pulumi_oncall.emulator import EmulatorProcess


def client(emu: EmulatorProcess, token: str, grafana_url: str | None, **retry: Any) -> OnCallClient:
    settings = RetrySettings(**{"max_attempts": 1, **retry})
    # The hints that name settings are the connection's words, as users see them.
    hints = connection.Hints(config.DEFAULT_KEYS)
    return OnCallClient(emu.url, token, grafana_url=grafana_url, retry=settings, advice=hints)


def test_a_service_account_token_works_with_the_stack_url(cloud: EmulatorProcess) -> None:
    with client(cloud, SA_TOKEN, STACK + "/") as c:
        created = c.create_integration({"type": "datadog", "name": "sa-made"})
        assert c.get_integration(created["id"])["type"] == "datadog"


def test_an_api_key_with_the_header_works_too(cloud: EmulatorProcess) -> None:
    with client(cloud, API_KEY, STACK) as c:
        assert isinstance(c.list_integrations(), list)


def test_missing_stack_url_is_explained(cloud: EmulatorProcess) -> None:
    with client(cloud, SA_TOKEN, None) as c, pytest.raises(AuthError) as info:
        c.list_integrations()
    message = str(info.value)
    assert "403 Organization not found." in message
    assert "pulumi config set oncall:grafanaUrl https://mystack.grafana.net" in message
    assert SA_TOKEN not in message


def test_wrong_token_is_explained(cloud: EmulatorProcess) -> None:
    with client(cloud, "glsa_not_a_real_one", STACK) as c, pytest.raises(AuthError) as info:
        c.list_integrations()
    message = str(info.value)
    assert (
        "403 Invalid token." in message and "Grafana rejected the service-account token" in message
    )
    assert "glsa_not_a_real_one" not in message


def test_a_viewer_is_told_which_permission_it_lacks(cloud: EmulatorProcess) -> None:
    with client(cloud, SA_VIEWER, STACK) as c:
        c.list_integrations()  # reads are allowed
        with pytest.raises(AuthError) as info:
            c.create_integration({"type": "webhook", "name": "nope"})
    message = str(info.value)
    assert "You do not have permission to perform this action." in message
    assert "grafana-oncall-app.integrations:write" in message
    assert "grafana-irm-app.integrations:write" in message


def test_an_unknown_stack_is_retried_then_blamed_on_the_grafana_url(cloud: EmulatorProcess) -> None:
    cloud.admin("DELETE", "requests")
    # 350 s asked for, capped at 1 s a wait; the operation may take 2.5 s in all.
    wrong = client(
        cloud, SA_TOKEN, "https://other.grafana.net", max_retry_after=1.0, max_elapsed=2.5
    )
    with wrong as c, pytest.raises(ThrottledError) as info:
        c.list_integrations()
    message = str(info.value)
    assert "Organization being synced, please retry." in message
    assert "the Grafana URL https://other.grafana.net is probably wrong" in message
    assert "oncall:grafanaUrl" in message
    attempts = [r for r in cloud.admin("GET", "requests")["requests"] if r["status"] == 429]
    assert 2 <= len(attempts) <= 4


def test_a_429_on_one_connection_never_pauses_another(cloud: EmulatorProcess) -> None:
    with EmulatorProcess(
        token=API_KEY, seed=SEED, extra_args=["--rate-limit", "1", "--rate-window", "5"]
    ) as slow:
        connections = {
            "slow": {"url": slow.url, "token": API_KEY},
            "fast": {"url": cloud.url, "token": SA_TOKEN, "grafanaUrl": STACK},
        }
        provider = IntegrationProvider()
        values = {"oncall:connections": json.dumps(connections)}
        provider.configure_from(values.get, {})
        provider.create({"type": "webhook", "name": "first", "connection": "slow"})
        blocked = threading.Thread(
            target=provider.create,
            args=({"type": "webhook", "name": "second", "connection": "slow"},),
        )
        blocked.start()
        slow_client = provider.client("slow")
        while slow_client.throttle.throttled == 0:
            assert blocked.is_alive()
            time.sleep(0.01)
        # "slow" is paused for its Retry-After; "fast" goes on meanwhile.
        done = provider.create({"type": "webhook", "name": "meanwhile", "connection": "fast"})
        assert done.id and blocked.is_alive()
        assert provider.client("fast").throttle.throttled == 0
        slow.admin("PUT", "faults", {"rate_limit": 0})
        blocked.join()
        assert connection.connect(provider.settings("slow")).client is slow_client
