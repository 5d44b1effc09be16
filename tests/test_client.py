"""The HTTP client against the emulator, over real HTTP."""

from __future__ import annotations

import socket
import threading
from typing import Any

import httpx
import pytest
from emulator_seed import TEAM_PLATFORM, TOKEN, VIEWER_TOKEN

from pulumi_oncall import _config as config
from pulumi_oncall import _connection as connection
from pulumi_oncall._client import OnCallClient, RetrySettings, api_root, render_errors
from pulumi_oncall._exceptions import (
    AuthError,
    NotFoundError,
    NotOnCallAPIError,
    ServerError,
    TransportError,
    ValidationError,
)

FAST = RetrySettings(
    timeout=5, max_elapsed=20, max_attempts=3, backoff_initial=0.01, backoff_max=0.05
)


def admin(emulator: Any, method: str, path: str, body: Any = None) -> Any:
    response = httpx.request(method, f"{emulator.url}/emulator/{path}", json=body, timeout=10)
    response.raise_for_status()
    return response.json() if response.content else None


def api_requests(emulator: Any) -> list[dict[str, Any]]:
    return [r for r in admin(emulator, "GET", "requests")["requests"] if "/api/" in r["path"]]


@pytest.fixture
def client(emulator: Any) -> OnCallClient:
    with OnCallClient(emulator.url, TOKEN, retry=FAST) as c:
        yield c


@pytest.mark.parametrize(
    "url, root",
    [
        ("https://oncall.example.com", "https://oncall.example.com/api/v1/"),
        ("https://oncall.example.com/", "https://oncall.example.com/api/v1/"),
        ("https://oncall.example.com/api/v1", "https://oncall.example.com/api/v1/"),
        ("https://oncall.example.com/api/v1/", "https://oncall.example.com/api/v1/"),
        ("https://host/oncall", "https://host/oncall/api/v1/"),
        ("https://host/oncall/api/v1/", "https://host/oncall/api/v1/"),
        (" http://127.0.0.1:8080 ", "http://127.0.0.1:8080/api/v1/"),
    ],
)
def test_api_root_accepts_common_forms(url: str, root: str) -> None:
    assert api_root(url) == root


def test_every_url_form_reaches_the_api(emulator: Any) -> None:
    for url in (
        emulator.url,
        emulator.url + "/",
        emulator.url + "/api/v1",
        emulator.url + "/api/v1/",
    ):
        with OnCallClient(url, TOKEN, retry=FAST) as c:
            assert c.list_integrations() == []


def test_render_errors_every_shape() -> None:
    assert render_errors({"type": ["This field is required."]}) == ["type: This field is required."]
    assert render_errors({"detail": "Invalid token."}) == ["Invalid token."]
    assert render_errors(["Failed to create"]) == ["Failed to create"]
    assert render_errors({"non_field_errors": ["Invalid data."]}) == ["Invalid data."]
    assert render_errors({"a": ["x", "y"], "b": {"c": ["z"]}}) == ["a: x", "a: y", "b.c: z"]


def test_crud_round_trip(client: OnCallClient) -> None:
    created = client.create_integration({"type": "grafana", "name": "g1"})
    assert created["id"].startswith("C") and created["type"] == "grafana"
    assert client.get_integration(created["id"])["name"] == "g1"
    updated = client.update_integration(
        created["id"], {"templates": {"slack": {"title": "{{ x }}"}}}
    )
    assert updated["templates"]["slack"]["title"] == "{{ x }}"
    assert [i["id"] for i in client.list_integrations()] == [created["id"]]
    client.delete_integration(created["id"])
    with pytest.raises(NotFoundError, match="404"):
        client.get_integration(created["id"])


def test_validation_errors_render_field_and_message(client: OnCallClient) -> None:
    with pytest.raises(ValidationError) as info:
        client._call("POST", "integrations/", {"name": "no type"})
    assert info.value.errors == ["type: This field is required."]
    assert "POST" in str(info.value) and "/api/v1/integrations/" in str(info.value)
    with pytest.raises(ValidationError, match="Invalid integration type"):
        client.create_integration({"type": "nope", "name": "x"})
    with pytest.raises(ValidationError, match="Failed to create the integration"):
        client.create_integration({"type": "grafana_alerting", "name": "ga"})
    with pytest.raises(ValidationError, match="Expected a dictionary"):
        client._call("POST", "integrations/", [1])  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="team_id: Object does not exist"):
        client.create_integration({"type": "webhook", "name": "w", "team_id": "TNOPE"})


def test_server_error_html_is_a_server_error(client: OnCallClient) -> None:
    with pytest.raises(ServerError, match="500"):
        client.create_integration({"type": "webhook", "name": "n" * 151})


def test_html_answer_says_the_url_is_not_the_api(emulator: Any) -> None:
    ui = emulator.url + "/grafana/a/grafana-oncall-app"
    with (
        OnCallClient(ui, TOKEN, retry=FAST) as c,
        pytest.raises(NotOnCallAPIError, match="probably not the OnCall API"),
    ):
        c.list_integrations()


def test_wrong_token_and_viewer_are_auth_errors_without_the_token(emulator: Any) -> None:
    secret = "wrong-token-should-never-show"
    hints = connection.Hints(config.DEFAULT_KEYS)  # the words that name settings
    with (
        OnCallClient(emulator.url, secret, retry=FAST, advice=hints) as c,
        pytest.raises(AuthError) as info,
    ):
        c.list_integrations()
    assert "Invalid token" in str(info.value) and secret not in str(info.value)
    assert "oncall:token" in str(info.value)
    with OnCallClient(emulator.url, VIEWER_TOKEN, retry=FAST) as c:
        assert c.list_integrations() == []
        with pytest.raises(AuthError, match="permission") as info:
            c.create_integration({"type": "webhook", "name": "v"})
    assert VIEWER_TOKEN not in str(info.value)


def test_pagination_walks_every_page_and_stops(client: OnCallClient, emulator: Any) -> None:
    ids = [client.create_integration({"type": "webhook", "name": f"w{i}"})["id"] for i in range(7)]
    admin(emulator, "DELETE", "requests")
    listed = client.list_integrations(perpage=3)
    assert [i["id"] for i in listed] == ids
    pages = [r for r in api_requests(emulator) if r["method"] == "GET"]
    assert len(pages) == 3
    assert [i["name"] for i in client.list_integrations(name="w4")] == ["w4"]


def test_429_waits_for_retry_after_and_pauses_every_thread(emulator: Any) -> None:
    admin(emulator, "PUT", "faults", {"rate_limit": 5, "rate_window": 2})
    with OnCallClient(emulator.url, TOKEN, retry=FAST) as c:
        results: list[str] = []

        def work(i: int) -> None:
            results.append(c.create_integration({"type": "webhook", "name": f"t{i}"})["id"])

        threads = [threading.Thread(target=work, args=(i,)) for i in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(set(results)) == 12
        statuses = [r["status"] for r in api_requests(emulator)]
        assert 429 in statuses
        assert c.throttle.throttled >= 1
    assert len(admin(emulator, "GET", "integrations")["integrations"]) == 12


def test_unreachable_host_is_a_transport_error(emulator: Any) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with (
        OnCallClient(f"http://127.0.0.1:{port}", TOKEN, retry=FAST) as c,
        pytest.raises(TransportError, match="could not connect") as info,
    ):
        c.get_integration("CANY")
    assert not info.value.request_sent
    assert TOKEN not in str(info.value)


def test_pooled_client_is_safe_across_threads(client: OnCallClient) -> None:
    created = [client.create_integration({"type": "webhook", "name": f"p{i}"}) for i in range(4)]
    errors: list[BaseException] = []

    def hammer(integration_id: str) -> None:
        try:
            for n in range(10):
                client.update_integration(integration_id, {"description_short": f"d{n}"})
                assert client.get_integration(integration_id)["description_short"] == f"d{n}"
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=hammer, args=(c["id"],)) for c in created]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_requests_carry_user_agent_and_raw_token(emulator: Any) -> None:
    with OnCallClient(emulator.url, "Bearer " + TOKEN, retry=FAST) as c, pytest.raises(AuthError):
        c.list_integrations()
    with OnCallClient(emulator.url, TOKEN, retry=FAST) as c:
        assert c._http.headers["user-agent"].startswith("pulumi-oncall/")


def test_team_scoped_lookup(client: OnCallClient) -> None:
    a = client.create_integration({"type": "webhook", "name": "same"})
    b = client.create_integration({"type": "webhook", "name": "same", "team_id": TEAM_PLATFORM})
    assert client.find_integration("same", None)["id"] == a["id"]
    assert client.find_integration("same", TEAM_PLATFORM)["id"] == b["id"]
    assert client.find_integration("other", None) is None


def test_ids_are_escaped_in_paths(client: OnCallClient, emulator: Any) -> None:
    other = client.create_integration({"type": "webhook", "name": "other"})
    admin(emulator, "DELETE", "requests")
    for crafted in (f"{other['id']}/../{other['id']}", "../teams", "C1?page=2", "C1#x"):
        # Not found, or not even a route of the API: never another object.
        with pytest.raises((NotFoundError, NotOnCallAPIError)):
            client.get_integration(crafted)
    paths = [r["path"] for r in api_requests(emulator)]
    assert len(paths) == 4
    # Each id stayed one path segment: nothing was resolved, queried or cut off.
    assert paths == [
        f"/api/v1/integrations/{c}/"
        for c in (f"{other['id']}/../{other['id']}", "../teams", "C1?page=2", "C1#x")
    ]


def test_credentials_in_the_url_never_reach_a_message(emulator: Any) -> None:
    host = emulator.url.split("://", 1)[1]
    url = f"http://someone:hunter2pass@{host}"
    with OnCallClient(url, "wrong-token", retry=FAST) as c:
        assert "hunter2pass" not in c.base_url
        with pytest.raises(AuthError) as caught:
            c.get_integration("CABC123")
    assert "hunter2pass" not in str(caught.value) and "***@" in str(caught.value)
    with pytest.raises(Exception) as bad:
        api_root("ftp://someone:hunter2pass@host")
    assert "hunter2pass" not in str(bad.value)
