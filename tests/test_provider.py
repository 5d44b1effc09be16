"""The dynamic provider's methods, called directly against the emulator."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import httpx
import pytest
from emulator_seed import CHAIN_DEFAULT, CHAIN_URGENT, TEAM_DATABASE, TEAM_PLATFORM, TOKEN
from pulumi.dynamic.dynamic import serialize_provider
from pulumi.runtime import rpc

from pulumi_oncall import _model as model
from pulumi_oncall._exceptions import ConflictError, OnCallError
from pulumi_oncall._provider import SECRET_KEYS, IntegrationProvider


def configured(url: str, token: str = TOKEN, **extra: str) -> IntegrationProvider:
    provider = IntegrationProvider()
    values = {"oncall:url": url, "oncall:token": token, "oncall:retryMaxAttempts": "2", **extra}
    provider.configure_from(values.get, {})
    return provider


@pytest.fixture
def provider(emulator: Any) -> IntegrationProvider:
    return configured(emulator.url)


def server(emulator: Any, integration_id: str) -> dict[str, Any]:
    response = httpx.get(
        f"{emulator.url}/api/v1/integrations/{integration_id}/", headers={"Authorization": TOKEN}
    )
    response.raise_for_status()
    return response.json()


def everything(emulator: Any) -> list[dict[str, Any]]:
    response = httpx.get(f"{emulator.url}/emulator/integrations", params={"include_deleted": 1})
    return response.json()["integrations"]


def as_engine_holds(outputs: dict[str, Any]) -> dict[str, Any]:
    """`outputs` as the dynamic provider host hands them back to a later read."""
    # A loop of its own, as the host uses: asyncio.run would leave this thread with no
    # current loop, which later tests' Pulumi mocks need.
    loop = asyncio.new_event_loop()
    try:
        struct = loop.run_until_complete(rpc.serialize_properties(outputs, {}))
    finally:
        loop.close()
    held: dict[str, Any] = rpc.deserialize_properties(struct)
    return held


def checked(provider: IntegrationProvider, news: dict[str, Any]) -> dict[str, Any]:
    result = provider.check({}, news)
    assert result.failures == []
    return result.inputs


SPEC = {
    "type": "alertmanager",
    "name": "am-prod",
    "team_id": TEAM_PLATFORM,
    "description_short": "prod",
    "default_route": {"escalation_chain_id": CHAIN_DEFAULT, "slack": {"channel_id": "CALERTS"}},
    "templates": {
        "grouping_key": "{{ payload.groupKey }}",
        "slack": {"title": "{{ payload.status }}", "message": "{{ payload.message }}"},
        "web": {"title": "{{ payload.title }}"},
    },
}


def test_lifecycle_create_read_update_read_delete(
    provider: IntegrationProvider, emulator: Any
) -> None:
    inputs = checked(provider, SPEC)
    created = provider.create(inputs)
    outs = created.outs
    assert outs["templates"] == SPEC["templates"]
    assert outs["link"].startswith("http") and outs["default_route_id"].startswith("R")
    assert outs["heartbeat_link"].endswith("heartbeat/")
    assert server(emulator, created.id)["default_route"]["escalation_chain_id"] == CHAIN_DEFAULT

    read = provider.read(created.id, outs)
    assert read.id == created.id and read.outs == outs
    assert provider.diff(created.id, read.outs, inputs).changes is False

    news = checked(
        provider,
        {
            **SPEC,
            "name": "am-prod-2",
            "team_id": TEAM_DATABASE,
            "default_route": {"escalation_chain_id": CHAIN_URGENT},
            "templates": {
                "grouping_key": "{{ payload.fingerprint }}",
                "slack": {"title": "{{ payload.status }}"},
            },
        },
    )
    d = provider.diff(created.id, outs, news)
    assert d.changes is True and d.replaces == []
    updated = provider.update(created.id, outs, news).outs
    remote = server(emulator, created.id)
    assert remote["name"] == "am-prod-2" and remote["team_id"] == TEAM_DATABASE
    assert remote["default_route"]["escalation_chain_id"] == CHAIN_URGENT
    assert remote["default_route"]["slack"]["channel_id"] is None
    assert remote["templates"]["slack"] == {
        "title": "{{ payload.status }}",
        "message": None,
        "image_url": None,
    }
    assert remote["templates"]["web"]["title"] is None
    assert provider.read(created.id, updated).outs == updated
    assert provider.diff(created.id, updated, news).changes is False

    provider.delete(created.id, updated)
    assert provider.read(created.id, updated).id is None


def test_removing_a_template_resets_it_on_the_server(
    provider: IntegrationProvider, emulator: Any
) -> None:
    olds = checked(
        provider,
        {
            "type": "webhook",
            "name": "w",
            "templates": {"resolve_signal": "{{ 1 }}", "sms": {"title": "t"}},
        },
    )
    created = provider.create(olds)
    news = checked(provider, {"type": "webhook", "name": "w"})
    assert provider.diff(created.id, created.outs, news).changes is True
    provider.update(created.id, created.outs, news)
    templates = server(emulator, created.id)["templates"]
    assert templates["resolve_signal"] is None and templates["sms"]["title"] is None


def test_server_defaults_cause_no_diff(provider: IntegrationProvider, emulator: Any) -> None:
    inputs = checked(provider, {"type": "grafana", "name": "minimal"})
    created = provider.create(inputs)
    # A change made outside Pulumi to a field the program does not declare is not ours.
    httpx.put(
        f"{emulator.url}/api/v1/integrations/{created.id}/",
        headers={"Authorization": TOKEN},
        json={"templates": {"web": {"title": "{{ set.elsewhere }}"}}},
    ).raise_for_status()
    read = provider.read(created.id, created.outs)
    assert read.outs["templates"] is None and read.outs["maintenance_mode"] is None
    assert provider.diff(created.id, read.outs, inputs).changes is False


def test_drift_is_reported_by_read_and_corrected_by_update(
    provider: IntegrationProvider, emulator: Any
) -> None:
    inputs = checked(
        provider, {"type": "webhook", "name": "drifty", "templates": {"web": {"title": "mine"}}}
    )
    created = provider.create(inputs)
    # Without drift the read leaves the engine's inputs as they are, given the outputs
    # as the engine passes them back: through the SDK's serialisation, which drops None.
    held = as_engine_holds(created.outs)
    assert set(held) < set(created.outs)
    same = provider.read(created.id, held)
    assert same.outs == created.outs and same.inputs is None
    httpx.put(
        f"{emulator.url}/api/v1/integrations/{created.id}/",
        headers={"Authorization": TOKEN},
        json={"templates": {"web": {"title": "theirs"}}},
    ).raise_for_status()
    read = provider.read(created.id, created.outs)
    assert read.outs["templates"]["web"]["title"] == "theirs"
    assert read.inputs["templates"]["web"]["title"] == "theirs"
    assert provider.diff(created.id, read.outs, inputs).changes is True
    provider.update(created.id, read.outs, inputs)
    assert server(emulator, created.id)["templates"]["web"]["title"] == "mine"


def test_type_change_replaces(provider: IntegrationProvider) -> None:
    inputs = checked(provider, {"type": "webhook", "name": "t"})
    created = provider.create(inputs)
    d = provider.diff(created.id, created.outs, {**inputs, "type": "alertmanager"})
    assert d.replaces == ["type"] and d.delete_before_replace is True
    renamed = provider.diff(
        created.id, created.outs, {**inputs, "type": "alertmanager", "name": "t2"}
    )
    assert renamed.replaces == ["type"] and renamed.delete_before_replace is False


def test_unknown_values_pass_check_and_show_as_changes(provider: IntegrationProvider) -> None:
    inputs = checked(provider, {"type": "webhook", "name": "u"})
    created = provider.create(inputs)
    pending = {**inputs, "team_id": model.UNKNOWN}
    assert provider.check({}, pending).failures == []
    assert provider.diff(created.id, created.outs, pending).changes is True


def test_read_and_delete_of_a_missing_integration(provider: IntegrationProvider) -> None:
    created = provider.create(checked(provider, {"type": "webhook", "name": "gone"}))
    provider.delete(created.id, created.outs)
    assert provider.read(created.id, created.outs).id is None
    provider.delete(created.id, created.outs)  # a 404 counts as deleted


@pytest.mark.parametrize(
    "bad, prop",
    [
        ({"type": ""}, "type"),
        ({"type": "direct_paging"}, "type"),
        ({"type": "legacy_alertmanager"}, "type"),
        ({"type": "maintenance"}, "type"),
        ({"type": "webhook", "name": "n" * 151}, "name"),
        ({"type": "webhook", "description_short": "d" * 251}, "description_short"),
        ({"type": "webhook", "templates": {"slak": {"title": "x"}}}, "templates.slak"),
        ({"type": "webhook", "templates": {"sms": {"message": "x"}}}, "templates.sms.message"),
        (
            {"type": "webhook", "default_route": {"slack": {"channel": "x"}}},
            "default_route.slack.channel",
        ),
        (
            {"type": "webhook", "templates": {"web": {"title": "{{ x | nofilter }}"}}},
            "templates.web.title",
        ),
        ({"type": "webhook", "templates": {"grouping_key": "{% for %}"}}, "templates.grouping_key"),
    ],
)
def test_check_refuses_bad_input_naming_the_field(
    provider: IntegrationProvider, bad: dict[str, Any], prop: str
) -> None:
    failures = provider.check({}, {"name": "n", **bad}).failures
    assert [f.property for f in failures] == [prop]
    assert failures[0].reason


def test_check_names_the_missing_setting() -> None:
    provider = IntegrationProvider()
    provider.configure_from({}.get, {})
    (failure,) = provider.check({}, {"type": "webhook", "name": "x"}).failures
    assert "oncall:url" in failure.reason and "GRAFANA_ONCALL_URL" in failure.reason
    assert "oncall:token" in failure.reason
    with pytest.raises(OnCallError, match="oncall:url"):
        provider.create({"type": "webhook", "name": "x"})


def test_environment_fallback(emulator: Any) -> None:
    provider = IntegrationProvider()
    provider.configure_from(
        {}.get, {"GRAFANA_ONCALL_URL": emulator.url, "GRAFANA_ONCALL_ACCESS_TOKEN": TOKEN}
    )
    assert provider.create(checked(provider, {"type": "webhook", "name": "env"})).id


def test_serialized_provider_holds_no_credentials(
    provider: IntegrationProvider, emulator: Any
) -> None:
    provider.create(checked(provider, {"type": "webhook", "name": "s"}))  # client in use
    raw = base64.b64decode(serialize_provider(provider))
    assert TOKEN.encode() not in raw
    assert emulator.url.encode() not in raw
    assert b"IntegrationProvider" in raw


def test_rotated_token_takes_effect(emulator: Any) -> None:
    old = configured(emulator.url)
    created = old.create(checked(old, {"type": "webhook", "name": "rot"}))
    rotated = configured(emulator.url, token="rotated-token")
    with pytest.raises(OnCallError, match="Invalid token") as info:
        rotated.read(created.id, created.outs)
    assert "rotated-token" not in str(info.value)


def api_log(emulator: Any) -> list[tuple[str, str]]:
    return [(r["method"], r["path"]) for r in emulator.admin("GET", "requests")["requests"]]


def test_an_existing_name_is_never_taken_over_silently(
    provider: IntegrationProvider, emulator: Any
) -> None:
    inputs = checked(
        provider, {"type": "webhook", "name": "orphan", "templates": {"web": {"title": "t"}}}
    )
    first = provider.create(inputs)
    # Identical declarations are refused too: two stacks must never share one.
    with pytest.raises(ConflictError, match="already exists") as info:
        provider.create(inputs)
    message = str(info.value)
    assert f"import_id={first.id!r}" in message and "name=" in message
    assert message.startswith("integration 'orphan'")
    assert len([i for i in everything(emulator) if i["name"] == "orphan"]) == 1


def test_import_id_adopts_changing_only_what_differs(
    provider: IntegrationProvider, emulator: Any
) -> None:
    existing = provider.client().create_integration(
        {
            "type": "webhook",
            "name": "legacy",
            "description_short": "made in the UI",
            "templates": {"web": {"title": "kept"}, "sms": {"title": "also kept"}},
        }
    )
    emulator.admin("DELETE", "requests")
    same = {"type": "webhook", "name": "legacy", "import_id": existing["id"]}
    adopted = provider.create(checked(provider, same))
    assert adopted.id == existing["id"] and adopted.outs["link"] == existing["link"]
    assert api_log(emulator) == [("GET", f"/api/v1/integrations/{existing['id']}/")]

    emulator.admin("DELETE", "requests")
    different = {**same, "templates": {"web": {"title": "mine"}}}
    adopted = provider.create(checked(provider, different))
    assert [m for m, _ in api_log(emulator)] == ["GET", "PUT"]
    after = server(emulator, existing["id"])
    assert after["templates"]["web"]["title"] == "mine"
    assert after["templates"]["sms"]["title"] == "also kept"  # undeclared: untouched
    assert after["description_short"] == "made in the UI"
    assert after["link"] == existing["link"]
    # Once adopted, the id is inert: changing or dropping it is no change at all.
    assert (
        provider.diff(adopted.id, adopted.outs, {**different, "import_id": None}).changes is False
    )


def test_import_id_refuses_a_missing_id_and_another_type(
    provider: IntegrationProvider, emulator: Any
) -> None:
    existing = provider.client().create_integration({"type": "webhook", "name": "hook"})
    with pytest.raises(OnCallError, match="no such integration") as info:
        provider.create(checked(provider, {"type": "webhook", "import_id": "CNOSUCHTHING1"}))
    assert "CNOSUCHTHING1" in str(info.value)
    with pytest.raises(OnCallError, match="of type 'webhook', not 'alertmanager'"):
        provider.create(
            checked(provider, {"type": "alertmanager", "name": "hook", "import_id": existing["id"]})
        )
    assert server(emulator, existing["id"])["type"] == "webhook"


def test_adopting_with_fields_the_server_cannot_store_changes_nothing(
    provider: IntegrationProvider, emulator: Any
) -> None:
    existing = provider.client().create_integration({"type": "webhook", "name": "oss"})
    emulator.admin("DELETE", "requests")
    spec = {
        "type": "webhook",
        "name": "oss",
        "description_short": "would change",
        "labels": {"env": "prod"},
        "import_id": existing["id"],
    }
    with pytest.raises(OnCallError, match=r"cannot store labels .*Grafana Cloud.*left untouched"):
        provider.create(checked(provider, spec))
    assert [m for m, _ in api_log(emulator)] == ["GET"]
    assert server(emulator, existing["id"]) == existing


def test_a_type_that_cannot_be_created_can_still_be_adopted(provider: IntegrationProvider) -> None:
    spec = {"type": "legacy_alertmanager", "name": "old"}
    assert [f.property for f in provider.check({}, spec).failures] == ["type"]
    assert provider.check({}, {**spec, "import_id": "CABCDEFGHIJKL"}).failures == []
    direct = provider.check({}, {"type": "direct_paging", "import_id": "CABCDEFGHIJKL"})
    assert "nor adopted" in direct.failures[0].reason


def test_wrong_references_fail_the_check_with_a_suggestion_in_two_calls(emulator: Any) -> None:
    # A connection of its own: the lists are taken once per process and connection.
    connections = {"refs": {"url": emulator.url, "token": TOKEN}}
    provider = configured(emulator.url, **{"oncall:connections": json.dumps(connections)})
    emulator.admin("DELETE", "requests")
    spec = {
        "type": "webhook",
        "name": "refs",
        "connection": "refs",
        "team_id": TEAM_PLATFORM[:-1] + "X",
        "default_route": {"escalation_chain_id": CHAIN_URGENT.lower()},
    }
    failures = {f.property: f.reason for f in provider.check({}, spec).failures}
    assert set(failures) == {"team_id", "default_route.escalation_chain_id"}
    assert f"did you mean {TEAM_PLATFORM!r} ('platform')" in failures["team_id"]
    assert "get_team(" in failures["team_id"]
    chain = failures["default_route.escalation_chain_id"]
    assert f"{CHAIN_URGENT!r} ('urgent')" in chain
    for _ in range(3):  # listed once per process and connection
        provider.check({}, {**spec, "team_id": TEAM_PLATFORM})
    assert sorted(api_log(emulator)) == [
        ("GET", "/api/v1/escalation_chains/"),
        ("GET", "/api/v1/teams/"),
    ]


def test_empty_ids_mean_none_and_settle(provider: IntegrationProvider, emulator: Any) -> None:
    emulator.admin("DELETE", "requests")
    inputs = checked(
        provider,
        {
            "type": "webhook",
            "name": "noteam",
            "team_id": "",
            "default_route": {"escalation_chain_id": ""},
        },
    )
    assert api_log(emulator) == []  # nothing to look up
    created = provider.create(inputs)
    remote = server(emulator, created.id)
    assert remote["team_id"] is None and remote["default_route"]["escalation_chain_id"] is None
    read = provider.read(created.id, created.outs)
    assert provider.diff(created.id, read.outs, inputs).changes is False


def test_cloud_only_fields_on_an_oss_server_fail_and_leave_nothing(
    provider: IntegrationProvider, emulator: Any
) -> None:
    inputs = checked(
        provider, {"type": "webhook", "name": "teams", "templates": {"msteams": {"title": "x"}}}
    )
    with pytest.raises(OnCallError, match=r"msteams\.title.*Grafana Cloud"):
        provider.create(inputs)
    assert [i for i in everything(emulator) if i["name"] == "teams" and not i.get("deleted")] == []


def test_failed_update_leaves_the_integration_as_it_was(
    provider: IntegrationProvider, emulator: Any
) -> None:
    inputs = checked(provider, {"type": "webhook", "name": "keep", "description_short": "before"})
    created = provider.create(inputs)
    before = server(emulator, created.id)
    news = {**inputs, "description_short": "after", "team_id": "TDOESNOTEXIST"}
    with pytest.raises(OnCallError, match="team_id: Object does not exist") as info:
        provider.update(created.id, created.outs, news)
    assert "'keep'" in str(info.value)
    assert server(emulator, created.id) == before


def test_an_update_the_server_cannot_store_changes_nothing(
    provider: IntegrationProvider, emulator: Any
) -> None:
    inputs = checked(provider, {"type": "webhook", "name": "oss", "description_short": "before"})
    created = provider.create(inputs)
    before = server(emulator, created.id)
    emulator.admin("DELETE", "requests")
    news = {**inputs, "description_short": "after", "labels": {"env": "prod"}}
    with pytest.raises(OnCallError, match=r"cannot store labels .*nothing was changed"):
        provider.update(created.id, created.outs, news)
    assert [m for m, _ in api_log(emulator)] == ["GET"]
    assert server(emulator, created.id) == before


def test_references_wait_for_a_connection_not_known_yet(
    provider: IntegrationProvider, emulator: Any
) -> None:
    emulator.admin("DELETE", "requests")
    spec = {"type": "webhook", "name": "later", "team_id": "TNOSUCH", "connection": model.UNKNOWN}
    assert provider.check({}, spec).failures == []
    assert api_log(emulator) == []


def test_failures_on_secret_inputs_name_no_property_and_quote_nothing(
    provider: IntegrationProvider,
) -> None:
    news = {
        "type": "webhook",
        "name": "n" * 151,
        "templates": {"grouping_key": "{{ x hidden-token"},
        "description_short": "d" * 251,
        SECRET_KEYS: ["name", "templates"],
    }
    failures = provider.check({}, news).failures
    by_reason = {f.reason: f.property for f in failures}
    secret = [r for r in by_reason if "a secret" in r]
    assert len(secret) == 2 and all(by_reason[r] == "" for r in secret)
    assert not any("hidden-token" in r for r in by_reason)
    assert any(p == "description_short" for p in by_reason.values())  # not a secret


def test_an_invalid_connection_is_not_looked_up(provider: IntegrationProvider) -> None:
    for connection in (5.0, "", " staging "):
        failures = provider.check({}, {"type": "webhook", "name": "x", "connection": connection})
        reasons = " ".join(f.reason for f in failures.failures)
        assert [f.property for f in failures.failures] == ["connection"]
        assert "oncall:connections." not in reasons


def test_get_of_a_missing_or_crafted_id_fails_while_refresh_reports_gone(
    provider: IntegrationProvider,
) -> None:
    unmanaged = dict.fromkeys(("type", "name", "team_id", "connection"))
    for crafted in ("CNOSUCH1", "C1/../C2", "../teams"):
        with pytest.raises(OnCallError, match="get_integration"):
            provider.read(crafted, unmanaged)
    assert provider.read("CNOSUCH1", {"type": "webhook", "name": "x"}).id is None


def test_a_lost_create_says_what_the_rerun_does(emulator: Any) -> None:
    provider = configured(emulator.url, **{"oncall:retryMaxElapsed": "5"})
    # Every request fails with a 5xx: the POST's outcome is unknown, and the lookup that
    # would tell fails too.
    emulator.admin("PUT", "faults", {"fail_rate": 1.0})
    with pytest.raises(OnCallError) as caught:
        provider.create({"type": "webhook", "name": "lost"})
    emulator.admin("PUT", "faults", {"fail_rate": 0.0})
    text = str(caught.value)
    assert "whether it was created is unknown" in text
    assert "import_id=" in text and "nothing is ever duplicated" in text
    assert "adopted, not duplicated" not in text


def test_cloud_backends_are_refused_at_check_only_where_the_server_lacks_them(
    emulator: Any, cloud: Any
) -> None:
    from emulator_seed import CLOUD_API_KEY

    news = {
        "type": "webhook",
        "name": "teams",
        "routes": [{"routing_regex": "x", "name": "t", "msteams": {"id": "TEAMS1"}}],
    }
    oss = configured(emulator.url)
    assert oss.check({}, news).failures == []  # no integration yet: not known
    oss.create({"type": "webhook", "name": "known"})
    # Another connection (the first one keeps what it learnt for a minute).
    fresh = configured(emulator.url, **{"oncall:retryMaxElapsed": "299"})
    (failure,) = fresh.check({}, news).failures
    assert failure.property == "routes[0] ('t').msteams" and "Grafana Cloud" in failure.reason
    saas = configured(cloud.url, CLOUD_API_KEY)
    saas.create({"type": "webhook", "name": "known"})
    assert saas.check({}, news).failures == []
