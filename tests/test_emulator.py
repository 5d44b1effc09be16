"""The emulator against the OnCall contract, over real HTTP to a subprocess."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from emulator_http import HTTP, call
from emulator_seed import (
    CHAIN_DEFAULT,
    CHAIN_URGENT,
    SEED,
    TEAM_DATABASE,
    TEAM_PLATFORM,
    TOKEN,
    VIEWER_TOKEN,
)

from pulumi_oncall._schema import TEMPLATE_FIELDS, TEMPLATE_GROUPS
from pulumi_oncall.emulator import (
    EmulatorConfig,
    EmulatorError,
    EmulatorProcess,
    EmulatorState,
    FaultSettings,
    create_app,
)
from pulumi_oncall.emulator.constants import (
    ADMIN_HEADER,
    ADMIN_PREFIX,
    ADMIN_SECRET_ENV,
    LISTENING,
    TOKENS_ENV,
)
from pulumi_oncall.emulator.faults import FaultInjector
from pulumi_oncall.emulator.server import is_loopback

INTEGRATIONS = "/api/v1/integrations/"
OBJECT_KEYS = [
    "maintenance_mode",
    "maintenance_started_at",
    "maintenance_end_at",
    "id",
    "name",
    "description_short",
    "team_id",
    "link",
    "inbound_email",
    "type",
    "templates",
    "heartbeat",
    "default_route",
]
OSS_GROUPS = [g for g in TEMPLATE_GROUPS if g != "msteams"]
OSS_BACKENDS = ["slack", "telegram", "mobile_app", "mobile_app_critical", "email", "webhook"]
ID = re.compile(r"^C[A-Z0-9]{12}$")
PAGE_KEYS = {
    "count",
    "next",
    "previous",
    "results",
    "page_size",
    "current_page_number",
    "total_pages",
}

Emu = EmulatorProcess


def create(emu: Emu, body: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    response = call(emu, "POST", INTEGRATIONS, {"type": "webhook", **(body or {}), **fields})
    assert response.status_code == 201, response.text
    return response.json()


def get(emu: Emu, integration_id: str) -> httpx.Response:
    return call(emu, "GET", f"{INTEGRATIONS}{integration_id}/")


def put(emu: Emu, integration_id: str, body: Any, method: str = "PUT") -> httpx.Response:
    return call(emu, method, f"{INTEGRATIONS}{integration_id}/", body)


def rows(emu: Emu, include_deleted: bool = False) -> list[dict[str, Any]]:
    params = {"include_deleted": "1"} if include_deleted else None
    return emu.admin("GET", "integrations", params=params)["integrations"]


def is_html(response: httpx.Response) -> bool:
    return response.headers["content-type"].startswith("text/html") and "<html" in response.text


def assert_all_null_templates(templates: dict[str, Any], groups: list[str]) -> None:
    assert list(templates) == [*TEMPLATE_FIELDS, *groups]
    for key in TEMPLATE_FIELDS:
        assert templates[key] is None
    for group in groups:
        assert templates[group] == dict.fromkeys(TEMPLATE_GROUPS[group])


# The public docs' curl examples


def test_docs_create(emulator: Emu) -> None:
    response = call(emulator, "POST", INTEGRATIONS, {"type": "grafana"})
    assert response.status_code == 201
    assert response.headers["content-type"] == "application/json"
    obj = response.json()
    assert list(obj) == OBJECT_KEYS
    assert ID.match(obj["id"])
    assert obj["name"] == "Grafana Legacy Alerting :blush:"
    assert obj["type"] == "grafana"
    assert obj["team_id"] is None and obj["description_short"] is None
    assert obj["inbound_email"] is None
    assert obj["maintenance_mode"] is None
    assert re.fullmatch(
        re.escape(emulator.url) + r"/integrations/v1/grafana/[A-Za-z0-9]{20,}/", obj["link"]
    )
    assert obj["heartbeat"] == {"link": obj["link"] + "heartbeat/"}
    assert_all_null_templates(obj["templates"], OSS_GROUPS)
    route = obj["default_route"]
    assert re.fullmatch(r"R[A-Z0-9]{12}", route["id"])
    assert list(route) == ["id", "escalation_chain_id", *OSS_BACKENDS]
    assert route["escalation_chain_id"] is None
    assert route["slack"] == {"channel_id": None, "enabled": True}
    assert route["telegram"] == {"id": None, "enabled": False}
    assert "labels" not in obj


def test_docs_get(emulator: Emu) -> None:
    created = create(emulator, type="grafana")
    response = get(emulator, created["id"])
    assert response.status_code == 200
    assert response.json() == created


def test_docs_list(emulator: Emu) -> None:
    created = create(emulator, type="grafana")
    response = call(emulator, "GET", INTEGRATIONS)
    assert response.status_code == 200
    assert response.json() == {
        "count": 1,
        "next": None,
        "previous": None,
        "results": [created],
        "page_size": 50,
        "current_page_number": 1,
        "total_pages": 1,
    }


def test_docs_update_with_templates(emulator: Emu) -> None:
    created = create(
        emulator,
        type="grafana",
        templates={"grouping_key": "{{ payload.id }}", "slack": {"title": "{{ payload.t }}"}},
    )
    body = {
        "templates": {
            "grouping_key": None,
            "resolve_signal": None,
            "slack": {"title": None, "message": None, "image_url": None},
        }
    }
    response = put(emulator, created["id"], body)
    assert response.status_code == 200
    obj = response.json()
    assert list(obj) == OBJECT_KEYS
    assert_all_null_templates(obj["templates"], OSS_GROUPS)
    assert obj["link"] == created["link"]


def test_docs_delete(emulator: Emu) -> None:
    created = create(emulator, type="grafana")
    response = call(emulator, "DELETE", f"{INTEGRATIONS}{created['id']}/")
    assert response.status_code == 204
    assert response.content == b""
    assert get(emulator, created["id"]).status_code == 404


# Auth


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "wrong"}, {"Authorization": f"Bearer {TOKEN}"}],
    ids=["missing", "wrong", "bearer"],
)
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_bad_token_is_403_invalid_token(
    emulator: Emu, headers: dict[str, str], method: str
) -> None:
    response = call(
        emulator, method, INTEGRATIONS, {"type": "webhook"}, token=None, headers=headers
    )
    assert response.status_code == 403
    assert response.json() == {"detail": "Invalid token."}
    assert rows(emulator) == []


def test_viewer_reads_but_cannot_write(emulator: Emu) -> None:
    created = create(emulator)
    path = f"{INTEGRATIONS}{created['id']}/"
    assert call(emulator, "GET", path, token=VIEWER_TOKEN).json() == created
    assert call(emulator, "GET", INTEGRATIONS, token=VIEWER_TOKEN).json()["count"] == 1
    denied = {"detail": "You do not have permission to perform this action."}
    for method, target in [
        ("POST", INTEGRATIONS),
        ("PUT", path),
        ("PATCH", path),
        ("DELETE", path),
    ]:
        response = call(
            emulator, method, target, {"type": "webhook", "name": "x"}, token=VIEWER_TOKEN
        )
        assert (response.status_code, response.json()) == (403, denied), method
    assert get(emulator, created["id"]).json() == created
    assert len(rows(emulator)) == 1


# Not found, HTML answers, trailing slashes


def test_unknown_deleted_and_wrong_case_ids_are_404(emulator: Emu) -> None:
    created = create(emulator)
    deleted = create(emulator, name="deleted")["id"]
    assert call(emulator, "DELETE", f"{INTEGRATIONS}{deleted}/").status_code == 204
    for integration_id in ("CNOSUCHTHING1", created["id"].lower(), deleted):
        for method in ("GET", "PUT", "PATCH", "DELETE"):
            response = call(emulator, method, f"{INTEGRATIONS}{integration_id}/", {"name": "n"})
            assert response.status_code == 404, (integration_id, method)
            assert response.json() == {"detail": "Not found."}


@pytest.mark.parametrize(
    "path", ["/api/v1/nothing/", "/a/grafana-oncall-app/", "/api/v1/integrations/C1/extra/"]
)
def test_unknown_url_is_html_404(emulator: Emu, path: str) -> None:
    response = call(emulator, "GET", path)
    assert response.status_code == 404
    assert is_html(response)


def test_crash_is_html_500(emulator: Emu) -> None:
    create(emulator)
    response = call(emulator, "GET", INTEGRATIONS, params={"team_id": TEAM_PLATFORM})
    assert response.status_code == 500
    assert is_html(response)
    assert "Server Error (500)" in response.text


def test_trailing_slash_is_optional_on_every_method(emulator: Emu) -> None:
    response = call(emulator, "POST", INTEGRATIONS.rstrip("/"), {"type": "webhook"})
    assert response.status_code == 201
    integration_id = response.json()["id"]
    bare = f"{INTEGRATIONS}{integration_id}"
    assert call(emulator, "GET", INTEGRATIONS.rstrip("/")).json()["count"] == 1
    assert call(emulator, "GET", bare).json()["id"] == integration_id
    assert call(emulator, "PUT", bare, {"name": "a"}).json()["name"] == "a"
    assert call(emulator, "PATCH", bare, {"name": "b"}).json()["name"] == "b"
    assert call(emulator, "GET", "/api/v1/teams").status_code == 200
    assert call(emulator, "GET", "/api/v1/escalation_chains").status_code == 200
    assert call(emulator, "DELETE", bare).status_code == 204
    assert call(emulator, "GET", bare).status_code == 404


def test_wrong_method_is_405_json(emulator: Emu) -> None:
    response = call(emulator, "POST", f"{INTEGRATIONS}CNOSUCHTHING1/", {})
    assert response.status_code == 405
    assert response.json() == {"detail": 'Method "POST" not allowed.'}


# Create validation


@pytest.mark.parametrize(
    ("itype", "message"),
    [
        ("direct_paging", "Direct paging integrations can't be created"),
        ("legacy_alertmanager", "This integration type is deprecated"),
        ("legacy_grafana_alerting", "This integration type is deprecated"),
        ("nonsense", "Invalid integration type"),
        ("datadog", "Invalid integration type"),  # Cloud only
        ("Grafana", "Invalid integration type"),
        (5, "Invalid integration type"),
    ],
)
def test_refused_types(emulator: Emu, itype: Any, message: str) -> None:
    response = call(emulator, "POST", INTEGRATIONS, {"type": itype})
    assert (response.status_code, response.json()) == (400, {"detail": message})
    assert rows(emulator) == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "This field is required."),
        ({"type": None}, "This field may not be null."),
        ({"type": ""}, "This field may not be blank."),
        ({"type": "   "}, "This field may not be blank."),
    ],
)
def test_type_required(emulator: Emu, body: dict[str, Any], message: str) -> None:
    response = call(emulator, "POST", INTEGRATIONS, body)
    assert (response.status_code, response.json()) == (400, {"type": [message]})


def test_every_open_source_type_is_accepted(emulator: Emu) -> None:
    emulator.admin("PUT", "settings", {"grafana_reachable": True})
    types = [
        "grafana",
        "grafana_alerting",
        "webhook",
        "alertmanager",
        "formatted_webhook",
        "kapacitor",
        "elastalert",
        "zabbix",
        "manual",
        "inbound_email",
    ]
    for itype in types:
        obj = create(emulator, type=itype)
        assert obj["type"] == itype
        if itype in ("manual", "inbound_email"):
            assert obj["link"] is None and obj["heartbeat"] is None
        else:
            assert f"/integrations/v1/{itype}/" in obj["link"]
        if itype == "inbound_email":
            assert obj["inbound_email"].endswith("@inbound.oncall.local")
        else:
            assert obj["inbound_email"] is None


def test_maintenance_is_created_then_invisible(emulator: Emu) -> None:
    response = call(emulator, "POST", INTEGRATIONS, {"type": "maintenance", "name": "m"})
    assert response.status_code == 201
    integration_id = response.json()["id"]
    for method in ("GET", "PUT", "DELETE"):
        response = call(emulator, method, f"{INTEGRATIONS}{integration_id}/", {"name": "x"})
        assert response.status_code == 404, method
    assert call(emulator, "GET", INTEGRATIONS).json()["count"] == 0
    assert [(r["id"], r["hidden"]) for r in rows(emulator)] == [(integration_id, True)]


def test_grafana_alerting_needs_reachable_grafana(emulator: Emu) -> None:
    response = call(emulator, "POST", INTEGRATIONS, {"type": "grafana_alerting"})
    assert response.status_code == 400
    assert response.json() == [
        "Failed to create the integration because the Grafana instance is unreachable"
    ]
    assert rows(emulator) == []


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"name": ""}, {"name": ["This field may not be blank."]}),
        ({"name": "   "}, {"name": ["This field may not be blank."]}),
        ({"name": None}, {"name": ["This field may not be null."]}),
        ({"name": ["x"]}, {"name": ["Not a valid string."]}),
        (
            {"description_short": "d" * 251},
            {"description_short": ["Ensure this field has no more than 250 characters."]},
        ),
        ({"team_id": "TNOSUCHTEAM01"}, {"team_id": ["Object does not exist"]}),
        (
            {"default_route": {"escalation_chain_id": "FNOSUCHCHAIN1"}},
            {"escalation_chain_id": ["Object does not exist"]},
        ),
        ({"templates": None}, {"templates": ["This field may not be null."]}),
        (
            {"type": None, "name": None, "team_id": "TNOPE"},
            {
                "type": ["This field may not be null."],
                "name": ["This field may not be null."],
                "team_id": ["Object does not exist"],
            },
        ),
    ],
)
def test_create_field_errors(emulator: Emu, body: dict[str, Any], errors: dict[str, Any]) -> None:
    response = call(emulator, "POST", INTEGRATIONS, {"type": "webhook", **body})
    assert (response.status_code, response.json()) == (400, errors)
    assert rows(emulator) == []


def test_description_and_team_are_stored(emulator: Emu) -> None:
    obj = create(emulator, description_short="d" * 250, team_id=TEAM_PLATFORM)
    assert obj["description_short"] == "d" * 250
    assert obj["team_id"] == TEAM_PLATFORM


def test_name_over_150_characters_is_a_500(emulator: Emu) -> None:
    assert create(emulator, name="n" * 150)["name"] == "n" * 150
    response = call(emulator, "POST", INTEGRATIONS, {"type": "webhook", "name": "n" * 151})
    assert response.status_code == 500
    assert is_html(response)
    assert len(rows(emulator)) == 1


def test_invented_names_are_unique(emulator: Emu) -> None:
    names = [create(emulator, type="alertmanager")["name"] for _ in range(3)]
    assert names == ["Alertmanager :blush:", "Alertmanager :blush: 2", "Alertmanager :blush: 3"]


def test_slack_channel_needs_slack_connected(emulator: Emu) -> None:
    route = {"default_route": {"slack": {"channel_id": "C0123"}}}
    obj = create(emulator, route)
    assert obj["default_route"]["slack"] == {"channel_id": "C0123", "enabled": True}
    emulator.admin("PUT", "settings", {"slack_connected": False})
    response = call(emulator, "POST", INTEGRATIONS, {"type": "webhook", **route})
    assert response.status_code == 400
    assert response.json() == {"detail": "Slack isn't connected to this workspace"}
    assert len(rows(emulator)) == 1
    # Disabling Slack without a channel is fine.
    assert create(emulator, default_route={"slack": {"enabled": False}})["default_route"][
        "slack"
    ] == {
        "channel_id": None,
        "enabled": False,
    }


def test_route_is_stored(emulator: Emu) -> None:
    obj = create(
        emulator,
        default_route={
            "escalation_chain_id": CHAIN_DEFAULT,
            "telegram": {"id": "TG1", "enabled": True},
            "webhook": {"enabled": True},
            "msteams": {"id": "M1", "enabled": True},  # not on open source: ignored
            "bogus": {"x": 1},
        },
    )
    route = obj["default_route"]
    assert route["escalation_chain_id"] == CHAIN_DEFAULT
    assert route["telegram"] == {"id": "TG1", "enabled": True}
    assert route["webhook"] == {"id": None, "enabled": True}
    assert "msteams" not in route and "bogus" not in route


@pytest.mark.parametrize(
    ("content", "content_type", "status", "body"),
    [
        (
            b"[1, 2]",
            "application/json",
            400,
            {"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]},
        ),
        (
            b'"x"',
            "application/json",
            400,
            {"non_field_errors": ["Invalid data. Expected a dictionary, but got str."]},
        ),
        (b"{nope", "application/json", 400, None),
        (b'{"type": "webhook"}', "text/plain", 415, None),
    ],
)
def test_bad_bodies(
    emulator: Emu, content: bytes, content_type: str, status: int, body: Any
) -> None:
    response = call(
        emulator, "POST", INTEGRATIONS, content=content, headers={"Content-Type": content_type}
    )
    assert response.status_code == status
    if body is not None:
        assert response.json() == body
    elif status == 400:
        assert response.json()["detail"].startswith("JSON parse error - ")
    else:
        assert response.json() == {"detail": 'Unsupported media type "text/plain" in request.'}
    assert rows(emulator) == []


def raw(emu: Emu, method: str, path: str, content: bytes) -> httpx.Response:
    return call(emu, method, path, content=content, headers={"Content-Type": "application/json"})


def out_of_range(token: str) -> dict[str, str]:
    return {
        "detail": f"JSON parse error - Out of range float values are not JSON compliant: '{token}'"
    }


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinities_are_json_parse_errors(emulator: Emu, token: str) -> None:
    kept = create(emulator, name="kept")
    body = f'{{"type": "webhook", "name": "n", "templates": {{"slak": [1, {token}]}}}}'
    for method, path in (("POST", INTEGRATIONS), ("PUT", f"{INTEGRATIONS}{kept['id']}/")):
        response = raw(emulator, method, path, body.encode())
        assert (response.status_code, response.json()) == (400, out_of_range(token))
    assert get(emulator, kept["id"]).json() == kept
    assert [r["name"] for r in rows(emulator)] == ["kept"]
    # The admin endpoints read bodies the same way.
    faults = emulator.admin("GET", "faults")
    response = raw(emulator, "PUT", "/emulator/faults/", f'{{"fail_rate": {token}}}'.encode())
    assert (response.status_code, response.json()) == (400, out_of_range(token))
    assert emulator.admin("GET", "faults") == faults


NUL = "Null characters are not allowed."


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"name": "a\x00b"}, {"name": [NUL]}),
        ({"description_short": "\x00"}, {"description_short": [NUL]}),
        (
            {"description_short": "d" * 250 + "\x00"},
            {"description_short": ["Ensure this field has no more than 250 characters.", NUL]},
        ),
        (
            {"name": "x\ud800", "description_short": "a\x00\udfff"},
            {
                "name": ["Surrogate characters are not allowed: U+D800."],
                "description_short": [NUL, "Surrogate characters are not allowed: U+DFFF."],
            },
        ),
        # Relational fields have no such validator: the lookup finds nothing.
        ({"team_id": "T\x00"}, {"team_id": ["Object does not exist"]}),
        (
            {"default_route": {"escalation_chain_id": "F\x00"}},
            {"escalation_chain_id": ["Object does not exist"]},
        ),
    ],
)
def test_char_fields_refuse_nul_and_surrogate_characters(
    emulator: Emu, body: dict[str, Any], errors: dict[str, Any]
) -> None:
    # Serialised here: httpx's own encoding cannot carry a lone surrogate.
    content = json.dumps({"type": "webhook", **body}).encode()
    response = raw(emulator, "POST", INTEGRATIONS, content)
    assert (response.status_code, response.json()) == (400, errors)
    assert rows(emulator) == []
    kept = create(emulator, name="kept")
    response = raw(emulator, "PUT", f"{INTEGRATIONS}{kept['id']}/", json.dumps(body).encode())
    assert (response.status_code, response.json()) == (400, errors)
    assert get(emulator, kept["id"]).json() == kept


def test_nul_in_type_and_templates(emulator: Emu) -> None:
    response = call(emulator, "POST", INTEGRATIONS, {"type": "webhook\x00"})
    assert (response.status_code, response.json()) == (400, {"detail": "Invalid integration type"})
    # templates is a DictField, whose values DRF does not check: the server stores them.
    obj = create(emulator, templates={"grouping_key": "a\x00", "web": {"title": "\x00b"}})
    assert obj["templates"]["grouping_key"] == "a\x00"
    assert get(emulator, obj["id"]).json()["templates"]["web"]["title"] == "\x00b"


def nested(depth: int, leaf: str = "1") -> bytes:
    return ('{"a": ' * depth + leaf + "}" * depth).encode()


@pytest.mark.parametrize(
    "content",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"type": "webhook", "templates": ' + nested(100_000) + b"}",
    ],
    ids=["list", "object"],
)
def test_deeply_nested_bodies_are_json_400s(emulator: Emu, content: bytes) -> None:
    kept = create(emulator, name="kept")
    faults = emulator.admin("GET", "faults")
    for method, path in (
        ("POST", INTEGRATIONS),
        ("PUT", f"{INTEGRATIONS}{kept['id']}/"),
        ("PUT", "/emulator/faults/"),
    ):
        response = raw(emulator, method, path, content)
        assert response.status_code == 400, response.text[:200]
        assert response.headers["content-type"] == "application/json"
        message = response.json()["detail"]
        assert message.startswith("JSON parse error - maximum recursion depth exceeded")
    assert get(emulator, kept["id"]).json() == kept
    assert emulator.admin("GET", "faults") == faults
    assert len(rows(emulator)) == 1


def test_nested_bodies_that_parse_are_answered_as_usual(emulator: Emu) -> None:
    deep = nested(200).decode()
    ignored = f'{{"type": "webhook", "name": "deep", "templates": {{"slak": {deep}}}}}'
    response = raw(emulator, "POST", INTEGRATIONS, ignored.encode())
    assert response.status_code == 201, response.text
    assert response.json()["templates"] == get(emulator, response.json()["id"]).json()["templates"]
    refused = f'{{"type": "webhook", "description_short": {deep}}}'
    response = raw(emulator, "POST", INTEGRATIONS, refused.encode())
    assert (response.status_code, response.json()) == (
        400,
        {"description_short": ["Not a valid string."]},
    )


def test_large_bodies_are_accepted(emulator: Emu) -> None:
    # The real engine has no body limit of its own (a 60 MB template was stored).
    message = "x" * 5_000_000
    obj = create(emulator, templates={"web": {"message": message}})
    assert get(emulator, obj["id"]).json()["templates"]["web"]["message"] == message


# Name uniqueness


def test_names_are_unique_per_team(emulator: Emu) -> None:
    first = create(emulator, name="api")
    taken = {"detail": "An integration with this name already exists for this team"}
    for name in ("api", "  api  "):
        response = call(emulator, "POST", INTEGRATIONS, {"type": "webhook", "name": name})
        assert (response.status_code, response.json()) == (400, taken)
    assert create(emulator, name="  API ")["name"] == "API"  # case-sensitive, trimmed
    assert create(emulator, name="api", team_id=TEAM_PLATFORM)["team_id"] == TEAM_PLATFORM
    assert create(emulator, name="api", team_id=TEAM_DATABASE)["team_id"] == TEAM_DATABASE
    response = call(
        emulator, "POST", INTEGRATIONS, {"type": "webhook", "name": "api", "team_id": TEAM_PLATFORM}
    )
    assert (response.status_code, response.json()) == (400, taken)
    assert call(emulator, "DELETE", f"{INTEGRATIONS}{first['id']}/").status_code == 204
    assert create(emulator, name="api")["name"] == "api"


def test_concurrent_creates_of_one_name(emulator: Emu) -> None:
    def attempt(_: int) -> int:
        body = {"type": "webhook", "name": "race"}
        return call(emulator, "POST", INTEGRATIONS, body).status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = sorted(pool.map(attempt, range(16)))
    assert statuses == [201] + [400] * 15
    assert len(rows(emulator)) == 1


def test_update_rechecks_name_in_the_new_team(emulator: Emu) -> None:
    create(emulator, name="shared", team_id=TEAM_PLATFORM)
    other = create(emulator, name="shared")
    response = put(emulator, other["id"], {"team_id": TEAM_PLATFORM, "description_short": "x"})
    assert response.status_code == 400
    assert response.json() == {
        "detail": "An integration with this name already exists for this team"
    }
    assert get(emulator, other["id"]).json() == other
    # Its own name is not a conflict.
    assert put(emulator, other["id"], {"name": "shared"}).status_code == 200
    renamed = put(emulator, other["id"], {"team_id": TEAM_DATABASE}).json()
    assert renamed["team_id"] == TEAM_DATABASE


# Update: a partial merge


@pytest.fixture
def full(emulator: Emu) -> dict[str, Any]:
    return create(
        emulator,
        name="full",
        team_id=TEAM_PLATFORM,
        description_short="desc",
        templates={
            "grouping_key": "{{ payload.group }}",
            "resolve_signal": "{{ payload.state == 'ok' }}",
            "slack": {"title": "T {{ payload.title }}", "message": "M"},
            "web": {"title": "W", "image_url": "{{ payload.image }}"},
            "sms": {"title": "S"},
        },
        default_route={
            "escalation_chain_id": CHAIN_DEFAULT,
            "slack": {"channel_id": "C1", "enabled": True},
        },
    )


def test_update_leaves_omitted_fields_alone(emulator: Emu, full: dict[str, Any]) -> None:
    obj = put(emulator, full["id"], {"name": "renamed"}).json()
    assert obj == {**full, "name": "renamed"}
    obj = put(emulator, full["id"], {"templates": {}, "default_route": {}}).json()
    assert obj == {**full, "name": "renamed"}


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_update_resets_what_is_sent_as_null(
    emulator: Emu, full: dict[str, Any], method: str
) -> None:
    obj = put(
        emulator,
        full["id"],
        {
            "templates": {"slack": {"message": None}, "web": None, "resolve_signal": None},
            "default_route": {"escalation_chain_id": None},
            "team_id": None,
            "description_short": None,
        },
        method,
    ).json()
    t = obj["templates"]
    assert t["slack"] == {"title": "T {{ payload.title }}", "message": None, "image_url": None}
    assert t["web"] == {"title": None, "message": None, "image_url": None}
    assert t["resolve_signal"] is None
    assert t["grouping_key"] == "{{ payload.group }}"
    assert t["sms"] == {"title": "S"}
    assert obj["default_route"]["escalation_chain_id"] is None
    assert obj["default_route"]["slack"] == {"channel_id": "C1", "enabled": True}
    assert obj["team_id"] is None and obj["description_short"] is None
    assert get(emulator, full["id"]).json() == obj


def test_update_sets_and_merges(emulator: Emu, full: dict[str, Any]) -> None:
    obj = put(
        emulator,
        full["id"],
        {
            "templates": {"slack": {"image_url": "I"}, "email": {"title": "E"}},
            "default_route": {"escalation_chain_id": CHAIN_URGENT, "slack": {"enabled": False}},
        },
    ).json()
    assert obj["templates"]["slack"] == {
        "title": "T {{ payload.title }}",
        "message": "M",
        "image_url": "I",
    }
    assert obj["templates"]["email"] == {"title": "E", "message": None}
    assert obj["default_route"]["escalation_chain_id"] == CHAIN_URGENT
    assert obj["default_route"]["slack"] == {"channel_id": "C1", "enabled": False}
    route = {"slack": {"enabled": None}, "telegram": {"id": "TG", "enabled": None}}
    obj = put(emulator, full["id"], {"default_route": route}).json()
    assert obj["default_route"]["slack"] == {"channel_id": "C1", "enabled": True}
    assert obj["default_route"]["telegram"] == {"id": "TG", "enabled": False}
    bad = put(emulator, full["id"], {"default_route": {"slack": {"enabled": "maybe"}}})
    assert bad.status_code == 400
    assert bad.json() == {"default_route": {"slack": {"enabled": ["Must be a valid boolean."]}}}


def test_update_ignores_type_and_read_only_fields(emulator: Emu, full: dict[str, Any]) -> None:
    response = put(
        emulator,
        full["id"],
        {"type": "alertmanager", "id": "CXXXXXXXXXXXX", "link": "x", "heartbeat": None},
    )
    assert response.status_code == 200
    assert response.json() == full


def test_put_of_a_full_get_body_round_trips(emulator: Emu, full: dict[str, Any]) -> None:
    body = get(emulator, full["id"]).json()
    response = put(emulator, full["id"], body)
    assert response.status_code == 200
    assert response.json() == full


def test_failed_update_changes_nothing(emulator: Emu, full: dict[str, Any]) -> None:
    bodies = [
        {"name": "new", "templates": {"slack": {"title": "{{ broken"}}},
        {"name": "new", "default_route": {"escalation_chain_id": "FNOPE"}},
        {"name": "new", "team_id": "TNOPE"},
        {"templates": {"web": None}, "name": ""},
        {
            "description_short": "x",
            "default_route": {"slack": {"channel_id": "C2"}},
            "templates": 5,
        },
    ]
    for body in bodies:
        assert put(emulator, full["id"], body).status_code == 400, body
        assert get(emulator, full["id"]).json() == full


# Templates


@pytest.mark.parametrize(
    ("templates", "message"),
    [
        ({"slack": {"title": "{{ broken"}}, "invalid slack title template"),
        ({"web": {"message": "{{ x | no_such_filter }}"}}, "invalid web message template"),
        ({"sms": {"title": 5}}, "invalid sms title template"),
        ({"resolve_signal": "{% if %}"}, "Invalid resolve_signal template data"),
        ({"grouping_key": 5}, "Invalid grouping_key template data"),
        ({"source_link": {"a": 1}}, "Invalid source_link template data"),
        ({"slack": "title"}, "Invalid slack template data"),
        ({"web": ["x"]}, "Invalid web template data"),
        ({"slack": {"foo": "x"}}, "Invalid template data"),
        ({"sms": {"message": "x"}}, "Invalid template data"),
    ],
)
def test_template_errors(emulator: Emu, templates: dict[str, Any], message: str) -> None:
    response = call(emulator, "POST", INTEGRATIONS, {"type": "webhook", "templates": templates})
    assert (response.status_code, response.json()) == (400, {"detail": message})
    assert rows(emulator) == []


def test_templates_with_oncall_filters_compile(emulator: Emu) -> None:
    templates = {
        "grouping_key": "{{ payload | tojson_pretty }}",
        "web": {"title": "{{ payload.t | regex_replace('a', 'b') }} {{ time() }}"},
        "slack": {"message": "{{ payload.ts | timestamp_to_datetime | datetimeformat }}"},
    }
    obj = create(emulator, templates=templates)
    assert obj["templates"]["grouping_key"] == templates["grouping_key"]
    assert obj["templates"]["web"]["title"] == templates["web"]["title"]


def test_unknown_template_keys_are_ignored(emulator: Emu) -> None:
    obj = create(
        emulator,
        templates={
            "slak": {"title": "x"},
            "msteams": {"title": "x"},
            "mobile_app": {"title": "m", "image_url": "i"},
        },
    )
    assert "slak" not in obj["templates"] and "msteams" not in obj["templates"]
    assert obj["templates"]["mobile_app"] == {"title": "m", "message": None}
    assert get(emulator, obj["id"]).json() == obj


# List and pagination


def test_pagination(emulator: Emu) -> None:
    ids = [create(emulator, name=f"i{n}")["id"] for n in range(7)]
    pages = []
    for page in (1, 2, 3):
        response = call(emulator, "GET", INTEGRATIONS, params={"page": page, "perpage": 3})
        body = response.json()
        assert set(body) == PAGE_KEYS
        assert (body["count"], body["page_size"], body["total_pages"]) == (7, 3, 3)
        assert body["current_page_number"] == page
        pages.append(body)
    assert [r["id"] for p in pages for r in p["results"]] == ids
    base = f"{emulator.url}{INTEGRATIONS}"
    assert pages[0]["previous"] is None
    assert pages[0]["next"] == f"{base}?page=2&perpage=3"
    assert pages[1]["previous"] == f"{base}?perpage=3"
    assert pages[1]["next"] == f"{base}?page=3&perpage=3"
    assert pages[2]["previous"] == f"{base}?page=2&perpage=3"
    assert pages[2]["next"] is None
    for past in ("4", "99", "0", "-1"):
        again = call(emulator, "GET", INTEGRATIONS, params={"page": past, "perpage": 3}).json()
        assert again == pages[2], past
    first = call(emulator, "GET", INTEGRATIONS, params={"page": "abc", "perpage": 3}).json()
    assert first["current_page_number"] == 1
    default = call(emulator, "GET", INTEGRATIONS).json()
    assert (default["page_size"], len(default["results"])) == (50, 7)


def test_perpage_is_not_capped(emulator: Emu) -> None:
    for n in range(3):
        create(emulator, name=f"n{n}")
    body = call(emulator, "GET", INTEGRATIONS, params={"perpage": 10_000}).json()
    assert (body["page_size"], body["total_pages"], len(body["results"])) == (10_000, 1, 3)


def test_list_filters_by_exact_name(emulator: Emu) -> None:
    wanted = create(emulator, name="Exact")
    create(emulator, name="exact")
    create(emulator, name="Exact 2")
    create(emulator, name="Exact", team_id=TEAM_PLATFORM)
    body = call(emulator, "GET", INTEGRATIONS, params={"name": "Exact"}).json()
    assert body["count"] == 2
    assert wanted in body["results"]
    assert {r["name"] for r in body["results"]} == {"Exact"}
    assert call(emulator, "GET", INTEGRATIONS, params={"name": "EXACT"}).json()["count"] == 0


def test_empty_list(emulator: Emu) -> None:
    body = call(emulator, "GET", INTEGRATIONS).json()
    assert (body["count"], body["results"], body["total_pages"]) == (0, [], 1)


def test_teams_and_escalation_chains(emulator: Emu) -> None:
    teams = call(emulator, "GET", "/api/v1/teams/").json()
    assert set(teams) == PAGE_KEYS
    by_id = {t["id"]: t["name"] for t in teams["results"]}
    assert by_id[TEAM_PLATFORM] == "platform" and by_id[TEAM_DATABASE] == "database"
    chains = call(emulator, "GET", "/api/v1/escalation_chains/").json()
    assert {(c["id"], c["name"]) for c in chains["results"]} >= {
        (CHAIN_DEFAULT, "default"),
        (CHAIN_URGENT, "urgent"),
    }
    assert call(emulator, "GET", "/api/v1/teams/", token="nope").status_code == 403


# Admin endpoints


def test_admin_adds_teams_and_chains(emulator: Emu) -> None:
    team = emulator.admin("POST", "teams", {"name": "sre"})
    assert re.fullmatch(r"T[A-Z0-9]{12}", team["id"]) and team["name"] == "sre"
    chain = emulator.admin("POST", "escalation_chains", {"id": "FADMINCHAIN01", "name": "c"})
    assert chain == {"id": "FADMINCHAIN01", "name": "c", "team_id": None}
    obj = create(emulator, team_id=team["id"], default_route={"escalation_chain_id": chain["id"]})
    assert obj["team_id"] == team["id"]
    assert obj["default_route"]["escalation_chain_id"] == "FADMINCHAIN01"


def test_admin_integrations_and_reset(emulator: Emu) -> None:
    kept = create(emulator, name="kept")
    gone = create(emulator, name="gone")
    call(emulator, "DELETE", f"{INTEGRATIONS}{gone['id']}/")
    assert [r["id"] for r in rows(emulator)] == [kept["id"]]
    everything = rows(emulator, include_deleted=True)
    assert [(r["id"], r["deleted"]) for r in everything] == [
        (kept["id"], False),
        (gone["id"], True),
    ]
    emulator.admin("POST", "reset")
    assert rows(emulator, include_deleted=True) == []
    assert emulator.admin("GET", "requests") == {"requests": []}
    teams = call(emulator, "GET", "/api/v1/teams/").json()["results"]
    assert TEAM_PLATFORM in {t["id"] for t in teams}


def test_request_log(emulator: Emu) -> None:
    create(emulator)
    call(emulator, "GET", INTEGRATIONS, token=VIEWER_TOKEN)
    call(emulator, "GET", INTEGRATIONS, token="wrong-token")
    emulator.admin("GET", "faults")  # admin calls are not logged
    response = HTTP.get(emulator.url + "/emulator/requests")
    log = response.json()["requests"]
    assert [(r["method"], r["path"], r["status"], r["user"]) for r in log] == [
        ("POST", INTEGRATIONS, 201, "admin"),
        ("GET", INTEGRATIONS, 200, "viewer"),
        ("GET", INTEGRATIONS, 403, None),
    ]
    for secret in (TOKEN, VIEWER_TOKEN, "wrong-token"):
        assert secret not in response.text
    assert HTTP.delete(emulator.url + "/emulator/requests/").status_code == 204
    assert emulator.admin("GET", "requests") == {"requests": []}


def test_fault_settings_are_checked(emulator: Emu) -> None:
    for bad in ({"fail_rate": 2}, {"nope": 1}, {"fail_statuses": []}, {"rate_window": 0}):
        response = HTTP.put(emulator.url + "/emulator/faults", json=bad)
        assert response.status_code == 400, bad
    settings = emulator.admin("PUT", "faults", {"latency_ms": 5, "fail_statuses": "502,504"})
    assert (settings["latency_ms"], settings["fail_statuses"]) == (5, [502, 504])
    assert settings["rate_limit"] == 300


# Faults


def test_fail_rate_answers_the_fault_status(emulator: Emu) -> None:
    emulator.admin("PUT", "faults", {"fail_rate": 1.0, "fail_statuses": [502]})
    response = call(emulator, "POST", INTEGRATIONS, {"type": "webhook"})
    assert response.status_code == 502
    assert is_html(response) and "Bad Gateway" in response.text
    emulator.admin("PUT", "faults", {"fail_statuses": [500]})
    response = call(emulator, "GET", INTEGRATIONS)
    assert response.status_code == 500 and is_html(response)
    assert rows(emulator) == []
    log = emulator.admin("GET", "requests")["requests"]
    assert [(r["status"], r["fault"]) for r in log] == [(502, "fail"), (500, "fail")]


def test_drop_before_closes_the_connection_and_creates_nothing(emulator: Emu) -> None:
    emulator.admin("PUT", "faults", {"drop_before_rate": 1.0})
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        call(emulator, "POST", INTEGRATIONS, {"type": "webhook", "name": "dropped"})
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        call(emulator, "GET", INTEGRATIONS)
    assert rows(emulator) == []
    emulator.admin("PUT", "faults", {"drop_before_rate": 0.0})
    assert call(emulator, "GET", INTEGRATIONS).json()["count"] == 0
    faults = [r["fault"] for r in emulator.admin("GET", "requests")["requests"]]
    assert faults == ["drop_before", "drop_before", None]


def test_drop_after_commits_then_closes_the_connection(emulator: Emu) -> None:
    emulator.admin("PUT", "faults", {"drop_after_rate": 1.0})
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        call(emulator, "POST", INTEGRATIONS, {"type": "webhook", "name": "committed"})
    [row] = rows(emulator)
    assert row["name"] == "committed"
    # Reads are never dropped after the fact.
    assert get(emulator, row["id"]).status_code == 200
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        put(emulator, row["id"], {"name": "renamed"})
    assert get(emulator, row["id"]).json()["name"] == "renamed"
    log = emulator.admin("GET", "requests")["requests"]
    assert [(r["method"], r["status"], r["fault"]) for r in log] == [
        ("POST", 201, "drop_after"),
        ("GET", 200, None),
        ("PUT", 200, "drop_after"),
        ("GET", 200, None),
    ]


def test_latency(emulator: Emu) -> None:
    emulator.admin("PUT", "faults", {"latency_ms": 300})
    started = time.monotonic()
    assert call(emulator, "GET", INTEGRATIONS).status_code == 200
    assert time.monotonic() - started >= 0.3
    started = time.monotonic()
    emulator.admin("GET", "faults")
    assert time.monotonic() - started < 0.3


def test_fault_flags_and_seed_are_reproducible() -> None:
    args = ["--fault-seed", "7", "--fail-rate", "0.5", "--fail-statuses", "502,503"]
    args += ["--latency-ms", "20"]
    expected = FaultInjector(FaultSettings(fail_rate=0.5, fail_statuses=(502, 503)), seed=7)
    with EmulatorProcess(token=TOKEN, extra_args=args) as emu:
        started = time.monotonic()
        statuses = [call(emu, "GET", INTEGRATIONS).status_code for _ in range(12)]
        assert time.monotonic() - started >= 12 * 0.02
        assert emu.admin("GET", "faults")["fail_rate"] == 0.5
    predicted = [plan.fail_status or 200 for plan in (expected.plan() for _ in range(12))]
    assert statuses == predicted
    assert {200, 502} <= set(statuses) or {200, 503} <= set(statuses)


# Rate limiting


@pytest.fixture(scope="module")
def limited() -> Any:
    with EmulatorProcess(
        token=["token-a", "token-b"],
        viewer_tokens=["token-v"],
        admin_secret="s3cret",
        extra_args=["--rate-limit", "3", "--rate-window", "2"],
    ) as emu:
        yield emu


def test_rate_limit_per_user_with_retry_after(limited: Emu) -> None:
    limited.admin("POST", "reset")
    for token in ("token-a", "token-b", "token-a"):
        assert call(limited, "GET", INTEGRATIONS, token=token).status_code == 200
    response = call(limited, "POST", INTEGRATIONS, {"type": "webhook"}, token="token-b")
    assert response.status_code == 429
    wait = int(response.headers["Retry-After"])
    assert wait in (1, 2)  # the window is 2 s
    assert response.headers["RateLimit-Reset"] == str(wait)
    assert response.json() == {
        "detail": f"Request was throttled. Expected available in {wait} seconds."
    }
    assert call(limited, "GET", "/api/v1/teams/", token="token-a").status_code == 429
    # Another user has a window of its own.
    assert call(limited, "GET", INTEGRATIONS, token="token-v").status_code == 200
    time.sleep(wait + 0.05)
    assert call(limited, "GET", INTEGRATIONS, token="token-a").status_code == 200
    assert limited.admin("GET", "integrations")["integrations"] == []
    statuses = [r["status"] for r in limited.admin("GET", "requests")["requests"]]
    assert statuses == [200, 200, 200, 429, 429, 200, 200]


def test_throttled_requests_do_not_count(limited: Emu) -> None:
    limited.admin("POST", "reset")
    limited.admin("PUT", "faults", {"rate_limit": 1, "rate_window": 2})
    try:
        # Margins of about a second either way, so a loaded machine cannot flip them.
        start = time.monotonic()
        assert call(limited, "GET", INTEGRATIONS, token="token-a").status_code == 200
        time.sleep(1.0)
        assert call(limited, "GET", INTEGRATIONS, token="token-a").status_code == 429
        time.sleep(max(0.0, start + 2.1 - time.monotonic()))
        # Only the first request was in the window, and it has left.
        assert call(limited, "GET", INTEGRATIONS, token="token-a").status_code == 200
    finally:
        limited.admin("PUT", "faults", {"rate_limit": 3, "rate_window": 2})


def test_admin_secret(limited: Emu) -> None:
    assert HTTP.get(limited.url + "/emulator/faults").status_code == 403
    wrong = HTTP.get(limited.url + "/emulator/faults", headers={"X-Emulator-Admin": "nope"})
    assert wrong.status_code == 403
    assert limited.admin("GET", "faults")["rate_limit"] >= 1


def admin_routes() -> list[tuple[str, str]]:
    """Every (method, path) of the admin API, read from the app itself."""
    state = EmulatorState(EmulatorConfig(admin_tokens=(TOKEN,)))
    try:
        rules = list(create_app(state).url_map.iter_rules())
    finally:
        state.store.close()
    return sorted(
        (method, rule.rule)
        for rule in rules
        if rule.rule.startswith(ADMIN_PREFIX)
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    )


# What each write would do if it got through.
ADMIN_WRITES: dict[str, Any] = {
    "/emulator/faults/": {"fail_rate": 1.0},
    "/emulator/settings/": {"slack_connected": True, "grafana_reachable": True},
    "/emulator/teams/": {"id": "TINTRUDER", "name": "intruder"},
    "/emulator/escalation_chains/": {"id": "FINTRUDER", "name": "intruder"},
    "/emulator/integrations/": {"type": "direct_paging", "name": "intruder"},
}
ADMIN_STATE = ["faults", "settings", "teams", "escalation_chains", "integrations", "requests"]


def test_admin_secret_guards_every_admin_route() -> None:
    secret = "adm1n-secret-7f3e"
    routes = admin_routes()
    assert {("POST", "/emulator/reset/"), ("GET", "/emulator/health/")} <= set(routes)
    assert len(routes) >= 14
    with EmulatorProcess(token=TOKEN, seed=SEED, admin_secret=secret) as emu:
        emu.admin("POST", "integrations", {"type": "webhook", "name": "kept"})
        assert call(emu, "GET", INTEGRATIONS).status_code == 200  # the API needs no secret
        before = {path: emu.admin("GET", path) for path in ADMIN_STATE}
        for headers in (
            {},
            {ADMIN_HEADER: ""},
            {ADMIN_HEADER: "wrong"},
            {ADMIN_HEADER: secret[:-1]},
        ):
            for method, path in routes:
                body = ADMIN_WRITES.get(path) if method != "GET" else None
                response = HTTP.request(method, emu.url + path, json=body, headers=headers)
                assert (response.status_code, response.json()) == (
                    403,
                    {"detail": f"Missing or wrong {ADMIN_HEADER} header."},
                ), (method, path)
        assert {path: emu.admin("GET", path) for path in ADMIN_STATE} == before
        health = HTTP.get(emu.url + "/emulator/health/", headers={ADMIN_HEADER: secret})
        assert health.json()["status"] == "ok"
        # Through the environment, never the command line.
        assert emu.pid is not None
        assert secret.encode() not in Path(f"/proc/{emu.pid}/cmdline").read_bytes()
        assert secret not in emu.stderr_text()


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("LocalHost.", True),
        ("0.0.0.0", False),
        ("::", False),
        ("", False),
        ("192.0.2.1", False),
        ("128.0.0.1", False),
        ("example.com", False),
        ("localhost.example.com", False),
        ("127.0.0.1.nip.io", False),
    ],
)
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_a_non_loopback_host_needs_an_admin_secret(tmp_path: Path) -> None:
    run = [sys.executable, "-m", "pulumi_oncall.emulator", "--port", "0"]
    root = str(Path(__file__).resolve().parents[1])
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": root, TOKENS_ENV: TOKEN}
    # A seed the emulator refuses, applied before it binds: should the host check
    # ever be lost, these runs still stop before listening anywhere but loopback.
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({"integrations": [{"name": "no type"}]}))
    for host in ("0.0.0.0", "::", "192.0.2.1"):
        for secret_env in ({}, {ADMIN_SECRET_ENV: ""}):
            refused = subprocess.run(
                [*run, "--host", host, "--seed", str(seed)],
                capture_output=True,
                text=True,
                env={**env, **secret_env},
                timeout=30,
            )
            assert refused.returncode == 2, refused.stderr
            assert f"--host {host!r} is not a loopback address" in refused.stderr
            assert ADMIN_SECRET_ENV in refused.stderr and "--admin-secret" in refused.stderr
            assert LISTENING not in refused.stdout
    # With a secret, from the environment or the flag, it goes on: to the seed.
    for extra, secret_env in (([], {ADMIN_SECRET_ENV: "s"}), (["--admin-secret", "s"], {})):
        past = subprocess.run(
            [*run, "--host", "0.0.0.0", "--seed", str(seed), *extra],
            capture_output=True,
            text=True,
            env={**env, **secret_env},
            timeout=30,
        )
        assert past.returncode == 2
        assert "seed integrations[0]" in past.stderr and "loopback" not in past.stderr
        assert LISTENING not in past.stdout


# Persistence, flavour, command line


def test_state_survives_a_restart_with_db(tmp_path: Path) -> None:
    db = tmp_path / "state" / "oncall.db"
    with EmulatorProcess(token=TOKEN, seed=SEED, db=db) as emu:
        kept = create(emu, name="kept", team_id=TEAM_PLATFORM, templates={"web": {"title": "t"}})
        gone = create(emu, name="gone")
        call(emu, "DELETE", f"{INTEGRATIONS}{gone['id']}/")
        first_url = emu.url
        assert emu.stop() == 0  # SIGTERM is a clean stop
    assert db.exists()
    with EmulatorProcess(token=TOKEN, db=db) as emu:
        again = get(emu, kept["id"]).json()
        assert again == {**kept, "link": again["link"], "heartbeat": again["heartbeat"]}
        assert again["link"] == kept["link"].replace(first_url, emu.url)
        assert get(emu, gone["id"]).status_code == 404
        assert create(emu, name="gone")["name"] == "gone"
        assert [t["id"] for t in call(emu, "GET", "/api/v1/teams/").json()["results"]] == [
            TEAM_PLATFORM,
            TEAM_DATABASE,
        ]
        assert "GET /api" not in emu.stderr_text()  # no access log by default


def test_cloud_flavour(tmp_path: Path) -> None:
    args = ["--flavour", "cloud", "--grafana-reachable", "--access-log"]
    args += ["--public-url", "https://oncall.example.com/"]
    with EmulatorProcess(token=TOKEN, extra_args=args) as emu:
        obj = create(
            emu,
            type="datadog",
            templates={"msteams": {"title": "{{ payload.t }}"}},
            default_route={"msteams": {"id": "M1", "enabled": True}},
        )
        assert obj["labels"] == []
        assert obj["templates"]["msteams"] == {
            "title": "{{ payload.t }}",
            "message": None,
            "image_url": None,
        }
        assert list(obj["templates"]) == [*TEMPLATE_FIELDS, *TEMPLATE_GROUPS]
        assert obj["default_route"]["msteams"] == {"id": "M1", "enabled": True}
        assert obj["link"].startswith("https://oncall.example.com/integrations/v1/datadog/")
        assert create(emu, type="grafana_alerting")["type"] == "grafana_alerting"
        body = call(emu, "GET", INTEGRATIONS, params={"perpage": 1}).json()
        assert body["next"] == f"https://oncall.example.com{INTEGRATIONS}?page=2&perpage=1"
        assert put(emu, obj["id"], get(emu, obj["id"]).json()).json() == obj
        log = emu.stderr_text()
        assert "POST /api/v1/integrations/" in log and TOKEN not in log


def test_cli_help_and_missing_token() -> None:
    run = [sys.executable, "-m", "pulumi_oncall.emulator"]
    root = str(Path(__file__).resolve().parents[1])
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": root}
    shown = subprocess.run([*run, "--help"], capture_output=True, text=True, env=env, timeout=30)
    assert shown.returncode == 0
    for text in (
        "ONCALL_EMULATOR_TOKENS",
        "--viewer-token",
        "--drop-after-rate",
        "/emulator/reset",
        "--admin-secret",
        ADMIN_SECRET_ENV,
        "loopback",
    ):
        assert text in shown.stdout
    refused = subprocess.run(
        [*run, "--port", "0"], capture_output=True, text=True, env=env, timeout=30
    )
    assert refused.returncode == 2
    assert "no admin token" in refused.stderr


def test_emulator_process_start_failure_reports_stderr() -> None:
    emu = EmulatorProcess(token=TOKEN, extra_args=["--flavour", "nope"])
    with pytest.raises(EmulatorError, match="invalid choice"):
        emu.start()
    assert not emu.running and emu.pid is None


def test_seed_file_is_validated(tmp_path: Path) -> None:
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({"teams": [{"name": "no id"}]}))
    with pytest.raises(EmulatorError, match="teams must be a list"):
        EmulatorProcess(token=TOKEN, seed=seed).start()
