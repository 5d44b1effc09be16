"""The emulator's Routes API against `oncall-routes-behaviour.md`, over real HTTP.

One test per row of the reference's tables (positions, errors), and tests of its
other sections: the object, the default route, create, moves, updates, backend
blocks, lists, and the emulator's own machinery (log, faults, throttling, --db).
The shared `emulator` has Slack connected; tests that need it otherwise say so.
"""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import pytest
from emulator_http import call
from emulator_seed import CHAIN_DEFAULT, CHAIN_URGENT, SEED, TOKEN, VIEWER_TOKEN

from pulumi_oncall.emulator import EmulatorProcess

Emu = EmulatorProcess

INTEGRATIONS = "/api/v1/integrations/"
ROUTES = "/api/v1/routes/"
OSS_BACKENDS = ["slack", "telegram", "mobile_app", "mobile_app_critical", "email", "webhook"]
CLOUD_BACKENDS = ["slack", "telegram", "msteams", *OSS_BACKENDS[2:]]
ROUTE_KEYS = [
    "position",
    "id",
    "integration_id",
    "escalation_chain_id",
    "routing_type",
    "routing_regex",
    "is_the_last_route",
]
PAGE_KEYS = [
    "count",
    "next",
    "previous",
    "results",
    "page_size",
    "current_page_number",
    "total_pages",
]
ROUTE_ID = re.compile(r"^R[A-Z0-9]{12}$")
NOT_FOUND = {"detail": "Not found."}
BAD_POSITION = {"detail": "Invalid value for position field"}
NO_SLACK = {"detail": "Slack isn't connected to this workspace"}


def req(emu: Emu, method: str, path: str, body: Any = None, **kwargs: Any) -> httpx.Response:
    """A request with the emulator's own admin token unless told otherwise."""
    kwargs.setdefault("token", emu.token)
    return call(emu, method, path, body, **kwargs)


def integration(emu: Emu, **fields: Any) -> dict[str, Any]:
    response = req(emu, "POST", INTEGRATIONS, {"type": "webhook", **fields})
    assert response.status_code == 201, response.text
    return response.json()


def post(emu: Emu, body: Any) -> httpx.Response:
    return req(emu, "POST", ROUTES, body)


def route(emu: Emu, integration_id: str, regex: str, **fields: Any) -> dict[str, Any]:
    body = {"integration_id": integration_id, "routing_regex": regex, "escalation_chain_id": None}
    response = post(emu, {**body, **fields})
    assert response.status_code == 201, response.text
    return response.json()


def put(emu: Emu, route_id: str, body: Any, method: str = "PUT") -> httpx.Response:
    return req(emu, method, f"{ROUTES}{route_id}/", body)


def get(emu: Emu, route_id: str) -> httpx.Response:
    return req(emu, "GET", f"{ROUTES}{route_id}/")


def listed(emu: Emu, **params: Any) -> dict[str, Any]:
    response = req(emu, "GET", ROUTES, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def positions(emu: Emu, integration_id: str) -> list[tuple[str | None, int]]:
    """(routing_regex, position) of an integration's routes, in list order."""
    page = listed(emu, integration_id=integration_id, perpage=100)
    return [(r["routing_regex"], r["position"]) for r in page["results"]]


def body_of(response: httpx.Response) -> tuple[int, Any]:
    return response.status_code, response.json()


def count(emu: Emu) -> int:
    return int(listed(emu)["count"])


@pytest.fixture
def no_slack(emulator: Emu) -> Emu:
    emulator.admin("PUT", "settings", {"slack_connected": False})  # the fixture restores it
    return emulator


@pytest.fixture
def four(emulator: Emu) -> tuple[str, list[dict[str, Any]]]:
    """An integration with routes a, b, c, d at 0..3."""
    cid = integration(emulator)["id"]
    return cid, [route(emulator, cid, name) for name in "abcd"]


# The object


def test_object_keys_defaults_and_ids(emulator: Emu) -> None:
    cid = integration(emulator)["id"]
    obj = route(emulator, cid, "prod")
    assert list(obj) == ROUTE_KEYS + OSS_BACKENDS
    assert ROUTE_ID.match(obj["id"])
    assert obj == {
        "position": 0,
        "id": obj["id"],
        "integration_id": cid,
        "escalation_chain_id": None,
        "routing_type": "regex",
        "routing_regex": "prod",
        "is_the_last_route": False,
        "slack": {"channel_id": None, "enabled": True},
        "telegram": {"id": None, "enabled": False},
        "mobile_app": {"id": None, "enabled": False},
        "mobile_app_critical": {"id": None, "enabled": False},
        "email": {"id": None, "enabled": False},
        "webhook": {"id": None, "enabled": False},
    }


def test_unknown_blocks_are_ignored_and_open_source_has_no_msteams(emulator: Emu) -> None:
    cid = integration(emulator)["id"]
    obj = route(emulator, cid, "x", msteams={"id": "M1", "enabled": True}, slak={"id": "C1"})
    assert "msteams" not in obj and "slak" not in obj
    assert get(emulator, obj["id"]).json() == obj


def test_cloud_routes_have_msteams(cloud: Emu) -> None:
    cid = integration(cloud)["id"]
    default = get(cloud, integration(cloud, name="other")["default_route"]["id"]).json()
    assert list(default) == ROUTE_KEYS + CLOUD_BACKENDS
    obj = route(cloud, cid, "x", msteams={"id": "M1", "enabled": True})
    assert list(obj) == ROUTE_KEYS + CLOUD_BACKENDS
    assert obj["msteams"] == {"id": "M1", "enabled": True}
    changed = put(cloud, obj["id"], {"msteams": {"enabled": False}}).json()
    assert changed["msteams"] == {"id": "M1", "enabled": False}
    # The default route's msteams block is the integration's.
    rid = default["id"]
    assert put(cloud, rid, {"msteams": {"id": "M2", "enabled": True}}).status_code == 200
    [shown] = [i for i in req(cloud, "GET", INTEGRATIONS).json()["results"] if i["name"] == "other"]
    assert shown["default_route"]["msteams"] == {"id": "M2", "enabled": True}


def test_get_with_or_without_trailing_slash(emulator: Emu) -> None:
    obj = route(emulator, integration(emulator)["id"], "x")
    assert req(emulator, "GET", f"{ROUTES}{obj['id']}").json() == obj
    assert req(emulator, "GET", f"{ROUTES}{obj['id']}/").json() == obj
    assert req(emulator, "GET", ROUTES.rstrip("/")).json()["count"] == 2


# The default route


def test_every_integration_has_a_default_route(emulator: Emu) -> None:
    created = integration(emulator)
    rid = created["default_route"]["id"]
    obj = get(emulator, rid).json()
    assert obj["id"] == rid and obj["integration_id"] == created["id"]
    assert (obj["is_the_last_route"], obj["routing_regex"], obj["routing_type"]) == (
        True,
        None,
        "regex",
    )
    assert obj["position"] == 0
    assert listed(emulator, integration_id=created["id"])["results"] == [obj]


def test_a_change_through_either_endpoint_shows_in_the_other(emulator: Emu) -> None:
    created = integration(emulator, default_route={"escalation_chain_id": CHAIN_DEFAULT})
    path, rid = f"{INTEGRATIONS}{created['id']}/", created["default_route"]["id"]
    assert get(emulator, rid).json()["escalation_chain_id"] == CHAIN_DEFAULT
    cleared = req(emulator, "PUT", path, {"default_route": {"escalation_chain_id": None}})
    assert cleared.status_code == 200
    assert get(emulator, rid).json()["escalation_chain_id"] is None
    changed = put(
        emulator,
        rid,
        {
            "escalation_chain_id": CHAIN_URGENT,
            "slack": {"channel_id": "C0123", "enabled": False},
            "email": {"enabled": True},
        },
    )
    assert changed.status_code == 200, changed.text
    shown = req(emulator, "GET", path).json()["default_route"]
    assert shown["escalation_chain_id"] == CHAIN_URGENT
    assert shown["slack"] == {"channel_id": "C0123", "enabled": False}
    assert shown["email"] == {"id": None, "enabled": True}
    # The integration's block is as it always was.
    assert list(shown) == ["id", "escalation_chain_id", *OSS_BACKENDS]


def test_default_route_has_its_own_ordering_and_is_listed_last(emulator: Emu) -> None:
    created = integration(emulator)
    first = route(emulator, created["id"], "first")
    assert first["position"] == 0  # beside the default route, also at 0
    front = route(emulator, created["id"], "front", position=0)
    assert positions(emulator, created["id"]) == [("front", 0), ("first", 1), (None, 0)]
    assert (
        listed(emulator, integration_id=created["id"])["results"][-1]["id"]
        == (created["default_route"]["id"])
    )
    assert front["position"] == 0


def test_default_route_cannot_be_deleted(emulator: Emu) -> None:
    rid = integration(emulator)["default_route"]["id"]
    response = req(emulator, "DELETE", f"{ROUTES}{rid}/")
    assert body_of(response) == (400, {"detail": "Unable to delete default filter"})
    assert get(emulator, rid).status_code == 200


def test_default_route_stores_a_routing_regex_and_takes_a_position(emulator: Emu) -> None:
    created = integration(emulator)
    rid = created["default_route"]["id"]
    stored = put(emulator, rid, {"routing_regex": "stored", "routing_type": "regex"}).json()
    assert (stored["routing_regex"], stored["is_the_last_route"]) == ("stored", True)
    # As OnCall 1.16.9 does: a position of its own ordering group, alone in it.
    assert put(emulator, rid, {"position": 3}).json()["position"] == 3
    assert put(emulator, rid, {"position": -1}).json()["position"] == 3
    route(emulator, created["id"], "normal")
    assert positions(emulator, created["id"]) == [("normal", 0), ("stored", 3)]
    after = req(emulator, "GET", f"{INTEGRATIONS}{created['id']}/").json()
    assert after["default_route"] == created["default_route"]


# Create


def test_the_escalation_chain_key_is_required_and_may_be_null(emulator: Emu) -> None:
    cid = integration(emulator)["id"]
    missing = post(emulator, {"integration_id": cid, "routing_regex": "foo"})
    assert body_of(missing) == (400, {"escalation_chain_id": ["This field is required."]})
    assert route(emulator, cid, "null")["escalation_chain_id"] is None
    assert route(emulator, cid, "empty", escalation_chain_id="")["escalation_chain_id"] is None
    chained = route(emulator, cid, "chained", escalation_chain_id=CHAIN_DEFAULT)
    assert chained["escalation_chain_id"] == CHAIN_DEFAULT


@pytest.mark.parametrize(
    ("routing_type", "answer"),
    [
        ("labels", {"non_field_errors": ["Expression type is incorrect"]}),
        ("bogus", {"detail": "Invalid route type"}),
        (5, {"detail": "Invalid route type"}),
        ("", {"routing_type": ["This field may not be blank."]}),
        (None, {"routing_type": ["This field may not be null."]}),
    ],
)
def test_routing_types_refused(emulator: Emu, routing_type: Any, answer: Any) -> None:
    cid = integration(emulator)["id"]
    body = {"integration_id": cid, "routing_regex": "foo", "escalation_chain_id": None}
    response = post(emulator, {**body, "routing_type": routing_type})
    assert body_of(response) == (400, answer)
    assert count(emulator) == 1


def test_routing_types_accepted(emulator: Emu) -> None:
    cid = integration(emulator)["id"]
    assert route(emulator, cid, "foo")["routing_type"] == "regex"
    assert route(emulator, cid, "bar", routing_type="regex")["routing_type"] == "regex"
    jinja = route(emulator, cid, "{{ payload.ok }}", routing_type="jinja2")
    assert (jinja["routing_type"], jinja["routing_regex"]) == ("jinja2", "{{ payload.ok }}")


def test_routing_regex_is_at_most_1024_characters(emulator: Emu) -> None:
    cid = integration(emulator)["id"]
    assert route(emulator, cid, "x" * 1024)["routing_regex"] == "x" * 1024
    body = {"integration_id": cid, "routing_regex": "x" * 1025, "escalation_chain_id": None}
    message = "Expression is too long. Maximum length: 1024 characters, current length: 1025"
    assert body_of(post(emulator, body)) == (400, {"non_field_errors": [message]})
    # Counted after trimming, as the server trims first.
    assert route(emulator, cid, " " + "y" * 1024 + "\n")["routing_regex"] == "y" * 1024


def test_routing_regex_is_trimmed(emulator: Emu) -> None:
    obj = route(emulator, integration(emulator)["id"], "  prod\n")
    assert obj["routing_regex"] == "prod"


def test_create_answers_201_with_the_full_object(emulator: Emu) -> None:
    cid = integration(emulator)["id"]
    body = {"integration_id": cid, "routing_regex": "foo", "escalation_chain_id": CHAIN_DEFAULT}
    response = post(emulator, body)
    assert response.status_code == 201
    assert response.headers["content-type"] == "application/json"
    assert response.json() == get(emulator, response.json()["id"]).json()


# Positions: one test per row of the reference's table


def test_position_absent_appends_after_the_largest(emulator: Emu) -> None:
    cid = integration(emulator)["id"]
    assert route(emulator, cid, "a")["position"] == 0
    assert route(emulator, cid, "b")["position"] == 1
    route(emulator, cid, "far", position=100)
    assert route(emulator, cid, "next")["position"] == 101


def test_position_0_inserts_at_the_front(four: Any, emulator: Emu) -> None:
    cid, _ = four
    assert route(emulator, cid, "front", position=0)["position"] == 0
    assert positions(emulator, cid)[:-1] == [("front", 0), ("a", 1), ("b", 2), ("c", 3), ("d", 4)]


def test_position_past_the_end_leaves_a_gap(four: Any, emulator: Emu) -> None:
    cid, _ = four
    assert route(emulator, cid, "far", position=100)["position"] == 100
    assert positions(emulator, cid)[:-1] == [("a", 0), ("b", 1), ("c", 2), ("d", 3), ("far", 100)]


def test_position_held_inserts_before_the_holder(four: Any, emulator: Emu) -> None:
    cid, _ = four
    route(emulator, cid, "far", position=100)
    assert route(emulator, cid, "held", position=2)["position"] == 2
    assert positions(emulator, cid)[:-1] == [
        ("a", 0),
        ("b", 1),
        ("held", 2),
        ("c", 3),
        ("d", 4),
        ("far", 101),  # past the gap too
    ]


def test_position_minus_one_appends(four: Any, emulator: Emu) -> None:
    cid, _ = four
    assert route(emulator, cid, "last", position=-1)["position"] == 4


@pytest.mark.parametrize("position", [-5, 2147483648])
def test_position_out_of_range_is_refused_and_the_route_created_anyway(
    four: Any, emulator: Emu, position: int
) -> None:
    cid, _ = four
    body = {"integration_id": cid, "routing_regex": "kept", "escalation_chain_id": None}
    response = post(emulator, {**body, "position": position})
    assert body_of(response) == (400, BAD_POSITION)
    assert positions(emulator, cid)[:-1] == [("a", 0), ("b", 1), ("c", 2), ("d", 3), ("kept", 4)]


@pytest.mark.parametrize(
    ("position", "message"),
    [("abc", "A valid integer is required."), (None, "This field may not be null.")],
)
def test_position_not_an_integer_creates_nothing(
    four: Any, emulator: Emu, position: Any, message: str
) -> None:
    cid, _ = four
    body = {"integration_id": cid, "routing_regex": "no", "escalation_chain_id": None}
    response = post(emulator, {**body, "position": position})
    assert body_of(response) == (400, {"position": [message]})
    assert len(positions(emulator, cid)) == 5


def test_manual_order_swaps_with_the_holder(four: Any, emulator: Emu) -> None:
    cid, _ = four
    assert route(emulator, cid, "swapped", position=1, manual_order=True)["position"] == 1
    assert positions(emulator, cid)[:-1] == [
        ("a", 0),
        ("swapped", 1),
        ("c", 2),
        ("d", 3),
        ("b", 4),
    ]


# Moves with PUT


def test_move_toward_the_front(four: Any, emulator: Emu) -> None:
    cid, routes = four
    assert put(emulator, routes[3]["id"], {"position": 1}).json()["position"] == 1
    assert positions(emulator, cid)[:-1] == [("a", 0), ("d", 1), ("b", 2), ("c", 3)]


def test_move_toward_the_back(four: Any, emulator: Emu) -> None:
    cid, routes = four
    assert put(emulator, routes[0]["id"], {"position": 2}).json()["position"] == 2
    assert positions(emulator, cid)[:-1] == [("b", 0), ("c", 1), ("a", 2), ("d", 3)]


def test_move_to_minus_one_is_to_the_largest_position(four: Any, emulator: Emu) -> None:
    cid, routes = four
    assert put(emulator, routes[1]["id"], {"position": -1}).json()["position"] == 3
    assert positions(emulator, cid)[:-1] == [("a", 0), ("c", 1), ("d", 2), ("b", 3)]


def test_move_into_a_gap(four: Any, emulator: Emu) -> None:
    cid, routes = four
    far = route(emulator, cid, "far", position=10)
    assert put(emulator, far["id"], {"position": 2}).json()["position"] == 2
    assert positions(emulator, cid)[:-1] == [("a", 0), ("b", 1), ("far", 2), ("c", 3), ("d", 4)]
    assert put(emulator, routes[0]["id"], {"position": 7}).json()["position"] == 7
    assert positions(emulator, cid)[:-1] == [("b", 0), ("far", 1), ("c", 2), ("d", 3), ("a", 7)]


@pytest.mark.parametrize("position", [-2, 2147483648])
def test_move_out_of_range_is_refused(four: Any, emulator: Emu, position: int) -> None:
    cid, routes = four
    response = put(emulator, routes[0]["id"], {"position": position, "routing_regex": "new"})
    assert body_of(response) == (400, BAD_POSITION)
    assert positions(emulator, cid)[:-1] == [("a", 0), ("b", 1), ("c", 2), ("d", 3)]


def test_a_put_that_fails_validation_moves_nothing(four: Any, emulator: Emu) -> None:
    cid, routes = four
    response = put(emulator, routes[3]["id"], {"position": 0, "routing_regex": "(unclosed"})
    assert body_of(response) == (400, {"non_field_errors": ["Regular expression is incorrect"]})
    assert positions(emulator, cid)[:-1] == [("a", 0), ("b", 1), ("c", 2), ("d", 3)]


def test_manual_order_on_update_swaps(four: Any, emulator: Emu) -> None:
    cid, routes = four
    assert put(emulator, routes[0]["id"], {"position": 3, "manual_order": True}).status_code == 200
    assert positions(emulator, cid)[:-1] == [("d", 0), ("b", 1), ("c", 2), ("a", 3)]


def test_delete_leaves_a_gap(four: Any, emulator: Emu) -> None:
    cid, routes = four
    assert req(emulator, "DELETE", f"{ROUTES}{routes[2]['id']}/").status_code == 204
    assert positions(emulator, cid)[:-1] == [("a", 0), ("b", 1), ("d", 3)]
    assert route(emulator, cid, "e")["position"] == 4
    assert body_of(req(emulator, "DELETE", f"{ROUTES}{routes[2]['id']}/")) == (404, NOT_FOUND)


# Update


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_update_changes_only_what_is_sent(emulator: Emu, method: str) -> None:
    other = integration(emulator, name="other")["id"]
    obj = route(emulator, integration(emulator)["id"], "old", escalation_chain_id=CHAIN_DEFAULT)
    assert body_of(put(emulator, obj["id"], {}, method)) == (200, obj)
    ignored = {"integration_id": other, "is_the_last_route": True, "id": "RIGNOREDIGNOR"}
    assert body_of(put(emulator, obj["id"], ignored, method)) == (200, obj)
    changed = put(emulator, obj["id"], {"routing_regex": " new "}, method).json()
    assert changed == {**obj, "routing_regex": "new"}
    assert get(emulator, obj["id"]).json() == changed


@pytest.mark.parametrize("value", [None, ""])
def test_update_refuses_a_null_escalation_chain(emulator: Emu, value: Any) -> None:
    obj = route(emulator, integration(emulator)["id"], "x", escalation_chain_id=CHAIN_DEFAULT)
    response = put(emulator, obj["id"], {"escalation_chain_id": value})
    assert body_of(response) == (400, {"escalation_chain_id": ["This field may not be null."]})
    assert get(emulator, obj["id"]).json() == obj
    moved = put(emulator, obj["id"], {"escalation_chain_id": CHAIN_URGENT}).json()
    assert moved["escalation_chain_id"] == CHAIN_URGENT


def test_routing_type_without_routing_regex_on_update_is_a_500(emulator: Emu) -> None:
    obj = route(emulator, integration(emulator)["id"], "x")
    response = put(emulator, obj["id"], {"routing_type": "jinja2"})
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("text/html")
    assert "<h1>Server Error (500)</h1>" in response.text
    assert get(emulator, obj["id"]).json() == obj
    together = {"routing_type": "jinja2", "routing_regex": "{{ payload.ok }}"}
    assert put(emulator, obj["id"], together).json()["routing_type"] == "jinja2"


def test_routing_regex_without_routing_type_is_checked_as_a_regex(emulator: Emu) -> None:
    cid = integration(emulator)["id"]
    obj = route(emulator, cid, "{{ payload.ok }}", routing_type="jinja2")
    template = "{{ (payload.a or payload.b }}"  # a template, and a regex that does not compile
    assert put(emulator, obj["id"], {"routing_regex": "{{ payload.b }}"}).status_code == 200
    alone = put(emulator, obj["id"], {"routing_regex": "{{ payload.b ("})
    assert body_of(alone) == (400, {"non_field_errors": ["Regular expression is incorrect"]})
    refused = put(emulator, obj["id"], {"routing_type": "jinja2", "routing_regex": template})
    assert body_of(refused) == (400, {"non_field_errors": ["Jinja template is incorrect"]})
    ok = put(emulator, obj["id"], {"routing_type": "jinja2", "routing_regex": "{{ (1) }}("})
    assert ok.json()["routing_regex"] == "{{ (1) }}("


# Backend blocks


def test_slack_channel_without_slack_connected(no_slack: Emu) -> None:
    cid = integration(no_slack)["id"]
    body = {"integration_id": cid, "routing_regex": "x", "escalation_chain_id": None}
    response = post(no_slack, {**body, "slack": {"channel_id": "C0123456"}})
    assert body_of(response) == (400, NO_SLACK)
    assert count(no_slack) == 1
    obj = route(no_slack, cid, "x", slack={"channel_id": None, "enabled": True})
    assert obj["slack"] == {"channel_id": None, "enabled": True}
    assert body_of(put(no_slack, obj["id"], {"slack": {"channel_id": "C1"}})) == (400, NO_SLACK)


def test_slack_channel_with_slack_connected(emulator: Emu) -> None:
    obj = route(emulator, integration(emulator)["id"], "x", slack={"channel_id": "C0123456"})
    assert obj["slack"] == {"channel_id": "C0123456", "enabled": True}
    bad = put(emulator, obj["id"], {"slack": {"channel_id": 5}})
    assert body_of(bad) == (400, {"slack": {"channel_id": ["Invalid Slack channel"]}})


def test_unknown_telegram_channel(emulator: Emu) -> None:
    cid = integration(emulator)["id"]
    body = {"integration_id": cid, "routing_regex": "x", "escalation_chain_id": None}
    response = post(emulator, {**body, "telegram": {"id": "ZZZZ", "enabled": True}})
    assert body_of(response) == (400, {"detail": "Telegram channel does not exist"})
    assert count(emulator) == 1
    obj = route(emulator, cid, "x", telegram={"id": None, "enabled": True})
    assert obj["telegram"] == {"id": None, "enabled": True}


def test_enabled_alone(emulator: Emu) -> None:
    obj = route(emulator, integration(emulator)["id"], "x", email={"enabled": True})
    assert obj["email"] == {"id": None, "enabled": True}


def test_each_enabled_toggles_with_put(emulator: Emu) -> None:
    obj = route(
        emulator,
        integration(emulator)["id"],
        "x",
        slack={"enabled": True},
        telegram={"enabled": True},
        email={"enabled": True},
    )
    off = put(emulator, obj["id"], {"slack": {"enabled": False}}).json()
    assert (off["slack"]["enabled"], off["telegram"]["enabled"], off["email"]["enabled"]) == (
        False,
        True,
        True,
    )
    off = put(emulator, obj["id"], {"telegram": {"enabled": False}}).json()
    assert (off["slack"]["enabled"], off["telegram"]["enabled"], off["email"]["enabled"]) == (
        False,
        False,
        True,
    )
    off = put(emulator, obj["id"], {"email": {"enabled": False}}).json()
    assert off["email"] == {"id": None, "enabled": False}
    # null, as OnCall stores it, shows as false.
    assert (
        put(emulator, obj["id"], {"slack": {"enabled": None}}).json()["slack"]["enabled"] is False
    )


def test_a_messaging_backend_block_resets_the_others(emulator: Emu) -> None:
    """OnCall 1.16.9 replaces the messaging backends (all but Slack and Telegram) with
    the blocks of the request, each merged into its stored value."""
    obj = route(
        emulator,
        integration(emulator)["id"],
        "x",
        webhook={"id": "W1", "enabled": True},
        mobile_app={"enabled": True},
        telegram={"enabled": True},
    )
    changed = put(emulator, obj["id"], {"mobile_app": {"id": "M1"}}).json()
    assert changed["mobile_app"] == {"id": "M1", "enabled": True}
    assert changed["webhook"] == {"id": None, "enabled": False}
    assert changed["telegram"] == {"id": None, "enabled": True}
    assert put(emulator, obj["id"], {"webhook": {}}).json() == changed  # an empty block: nothing


@pytest.mark.parametrize(
    ("block", "answer"),
    [
        (
            {"slack": "notadict"},
            {"slack": {"non_field_errors": ["Invalid data. Expected a dictionary, but got str."]}},
        ),
        ({"slack": None}, {"slack": ["This field may not be null."]}),
        ({"slack": {"enabled": "maybe"}}, {"slack": {"enabled": ["Must be a valid boolean."]}}),
        (
            {"telegram": "notadict"},
            {"telegram": ['Expected a dictionary of items but got type "str".']},
        ),
        ({"email": None}, {"email": ["This field may not be null."]}),
    ],
)
def test_malformed_backend_blocks(emulator: Emu, block: dict[str, Any], answer: Any) -> None:
    cid = integration(emulator)["id"]
    body = {"integration_id": cid, "routing_regex": "x", "escalation_chain_id": None}
    assert body_of(post(emulator, {**body, **block})) == (400, answer)
    obj = route(emulator, cid, "x")
    assert body_of(put(emulator, obj["id"], block)) == (400, answer)


# Errors: one test per row of the reference's table


def test_bad_jinja(emulator: Emu) -> None:
    cid = integration(emulator)["id"]
    for template in ("{{ payload.x ", "{{ payload.x | nosuchfilter }}"):
        body = {
            "integration_id": cid,
            "routing_regex": template,
            "routing_type": "jinja2",
            "escalation_chain_id": None,
        }
        response = post(emulator, body)
        assert body_of(response) == (400, {"non_field_errors": ["Jinja template is incorrect"]})
    # OnCall's own filters are known.
    assert route(emulator, cid, "{{ payload.x | regex_search('a') }}", routing_type="jinja2")


def test_bad_regex(emulator: Emu) -> None:
    cid = integration(emulator)["id"]
    body = {"integration_id": cid, "routing_regex": "(unclosed", "escalation_chain_id": None}
    assert body_of(post(emulator, body)) == (
        400,
        {"non_field_errors": ["Regular expression is incorrect"]},
    )
    assert count(emulator) == 1


def test_unknown_or_deleted_integration_id(emulator: Emu) -> None:
    gone = integration(emulator)["id"]
    assert req(emulator, "DELETE", f"{INTEGRATIONS}{gone}/").status_code == 204
    for integration_id in ("CNOSUCHINTEG1", gone, 5):
        body = {"integration_id": integration_id, "routing_regex": "x", "escalation_chain_id": None}
        response = post(emulator, body)
        assert body_of(response) == (400, {"integration_id": ["Object does not exist"]})
    assert count(emulator) == 0


def test_missing_integration_id(emulator: Emu) -> None:
    response = post(emulator, {"routing_regex": "x", "escalation_chain_id": None})
    assert body_of(response) == (400, {"integration_id": ["This field is required."]})


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, "This field may not be null."),
        ("", "This field may not be blank."),
        ("  \n", "This field may not be blank."),
        ("missing", "This field is required."),
    ],
)
def test_missing_blank_or_null_routing_regex(emulator: Emu, value: Any, message: str) -> None:
    body: dict[str, Any] = {
        "integration_id": integration(emulator)["id"],
        "escalation_chain_id": None,
    }
    if value != "missing":
        body["routing_regex"] = value
    assert body_of(post(emulator, body)) == (400, {"routing_regex": [message]})


def test_unknown_escalation_chain_id(emulator: Emu) -> None:
    cid = integration(emulator)["id"]
    body = {"integration_id": cid, "routing_regex": "x", "escalation_chain_id": "FNOSUCHCHAIN1"}
    answer = {"escalation_chain_id": ["Object does not exist"]}
    assert body_of(post(emulator, body)) == (400, answer)
    obj = route(emulator, cid, "x")
    assert body_of(put(emulator, obj["id"], {"escalation_chain_id": "FNOSUCHCHAIN1"})) == (
        400,
        answer,
    )


def test_unknown_or_deleted_route_or_a_route_of_a_deleted_integration(emulator: Emu) -> None:
    created = integration(emulator)
    deleted_route = route(emulator, created["id"], "deleted")["id"]
    orphan = route(emulator, created["id"], "orphan")["id"]
    assert req(emulator, "DELETE", f"{ROUTES}{deleted_route}/").status_code == 204
    assert req(emulator, "DELETE", f"{INTEGRATIONS}{created['id']}/").status_code == 204
    for rid in ("RNOSUCHROUTE1", deleted_route, orphan, created["default_route"]["id"]):
        for method, body in (("GET", None), ("PUT", {"routing_regex": "x"}), ("DELETE", None)):
            response = req(emulator, method, f"{ROUTES}{rid}/", body)
            assert body_of(response) == (404, NOT_FOUND), (rid, method)


def test_several_field_errors_together_and_detail_refusals_first(no_slack: Emu) -> None:
    response = post(no_slack, {"position": "x", "routing_regex": ""})
    assert body_of(response) == (
        400,
        {
            "position": ["A valid integer is required."],
            "integration_id": ["This field is required."],
            "escalation_chain_id": ["This field is required."],
            "routing_regex": ["This field may not be blank."],
        },
    )
    # A refusal in `detail` ends the request before the field errors are answered.
    assert body_of(post(no_slack, {"routing_type": "bogus"})) == (
        400,
        {"detail": "Invalid route type"},
    )
    assert body_of(post(no_slack, {"slack": {"channel_id": "C1"}})) == (400, NO_SLACK)
    for body in ([], "text", None):
        assert post(no_slack, body).status_code == 400


# Lists


def test_list_filters(emulator: Emu) -> None:
    a = integration(emulator, name="a")["id"]
    b = integration(emulator, name="b")["id"]
    ra = route(emulator, a, "shared")
    rb = route(emulator, b, "shared")
    route(emulator, b, "other")
    assert [r["integration_id"] for r in listed(emulator, integration_id=a)["results"]] == [a, a]
    unknown = listed(emulator, integration_id="CNOSUCHINTEG1")
    assert (unknown["count"], unknown["results"]) == (0, [])
    assert listed(emulator, routing_regex="shared")["results"] == [ra, rb]
    assert listed(emulator, routing_regex="share")["count"] == 0  # exact match
    assert listed(emulator, integration_id=b, routing_regex="shared")["results"] == [rb]
    assert listed(emulator, integration_id="", routing_regex="")["count"] == 5


def test_unfiltered_list_groups_by_integration_default_route_last(emulator: Emu) -> None:
    first = integration(emulator, name="first")
    second = integration(emulator, name="second")
    route(emulator, second["id"], "s0")
    route(emulator, first["id"], "f0")
    route(emulator, first["id"], "front", position=0)
    got = [(r["integration_id"], r["routing_regex"]) for r in listed(emulator)["results"]]
    assert got == [
        (first["id"], "front"),
        (first["id"], "f0"),
        (first["id"], None),
        (second["id"], "s0"),
        (second["id"], None),
    ]


def test_pages(emulator: Emu) -> None:
    cid = integration(emulator)["id"]
    for n in range(104):
        route(emulator, cid, f"r{n}")
    first = listed(emulator)
    assert list(first) == PAGE_KEYS
    assert (first["count"], first["page_size"], len(first["results"])) == (105, 25, 25)
    assert (first["current_page_number"], first["total_pages"]) == (1, 5)
    assert first["previous"] is None
    assert first["next"] == f"{emulator.url}{ROUTES}?page=2"
    second = listed(emulator, page=2, perpage=10, integration_id=cid)
    assert second["next"] == f"{emulator.url}{ROUTES}?integration_id={cid}&page=3&perpage=10"
    assert second["previous"] == f"{emulator.url}{ROUTES}?integration_id={cid}&perpage=10"
    assert [r["routing_regex"] for r in second["results"]] == [f"r{n}" for n in range(10, 20)]
    # perpage is capped at 100.
    big = listed(emulator, perpage=150)
    assert (big["page_size"], len(big["results"]), big["total_pages"]) == (100, 100, 2)
    # A page past the end repeats the last page.
    past = listed(emulator, page=99)
    assert past["current_page_number"] == 5 and past == listed(emulator, page=5)
    assert past["next"] is None and past["results"][-1]["is_the_last_route"] is True
    # Pages that are not numbers, or below 1, are the first; so are bad sizes.
    for params in ({"page": "abc"}, {"page": 0}, {"perpage": 0}, {"perpage": "x"}):
        page = listed(emulator, **params)
        assert (page["current_page_number"], page["page_size"]) == (1, 25), params


def test_public_url_makes_the_page_links(tmp_path: Path) -> None:
    args = ["--public-url", "https://oncall.example.com/"]
    with EmulatorProcess(token=TOKEN, extra_args=args) as emu:
        cid = integration(emu)["id"]
        for n in range(25):
            route(emu, cid, f"r{n}")
        assert listed(emu)["next"] == "https://oncall.example.com/api/v1/routes/?page=2"


def test_routes_of_a_deleted_integration_disappear(emulator: Emu) -> None:
    kept = integration(emulator, name="kept")
    gone = integration(emulator, name="gone")
    route(emulator, gone["id"], "x")
    assert count(emulator) == 3
    assert req(emulator, "DELETE", f"{INTEGRATIONS}{gone['id']}/").status_code == 204
    page = listed(emulator)
    assert [r["id"] for r in page["results"]] == [kept["default_route"]["id"]]
    assert listed(emulator, integration_id=gone["id"])["count"] == 0


# Auth, the request log, faults, throttling, persistence


def test_viewers_read_but_do_not_write(emulator: Emu) -> None:
    obj = route(emulator, integration(emulator)["id"], "x")
    assert req(emulator, "GET", f"{ROUTES}{obj['id']}/", token=VIEWER_TOKEN).json() == obj
    denied = {"detail": "You do not have permission to perform this action."}
    for method, path, body in [
        ("POST", ROUTES, {"integration_id": obj["integration_id"], "routing_regex": "y"}),
        ("PUT", f"{ROUTES}{obj['id']}/", {"routing_regex": "y"}),
        ("DELETE", f"{ROUTES}{obj['id']}/", None),
    ]:
        response = req(emulator, method, path, body, token=VIEWER_TOKEN)
        assert body_of(response) == (403, denied), method
    no_token = req(emulator, "GET", ROUTES, token=None)
    assert body_of(no_token) == (403, {"detail": "Invalid token."})
    assert get(emulator, obj["id"]).json() == obj


def test_methods_not_allowed(emulator: Emu) -> None:
    obj = route(emulator, integration(emulator)["id"], "x")
    assert req(emulator, "PUT", ROUTES, {}).status_code == 405
    response = req(emulator, "POST", f"{ROUTES}{obj['id']}/", {})
    assert body_of(response) == (405, {"detail": 'Method "POST" not allowed.'})


def test_routes_requests_are_logged(emulator: Emu) -> None:
    cid = integration(emulator)["id"]
    obj = route(emulator, cid, "x")
    put(emulator, obj["id"], {"routing_regex": "y"})
    listed(emulator, integration_id=cid)
    req(emulator, "DELETE", f"{ROUTES}{obj['id']}/")
    log = emulator.admin("GET", "requests")["requests"]
    assert [(e["method"], e["path"], e["status"], e["user"]) for e in log] == [
        ("POST", INTEGRATIONS, 201, "admin"),
        ("POST", ROUTES, 201, "admin"),
        ("PUT", f"{ROUTES}{obj['id']}/", 200, "admin"),
        ("GET", ROUTES, 200, "admin"),
        ("DELETE", f"{ROUTES}{obj['id']}/", 204, "admin"),
    ]
    assert log[3]["query"] == f"integration_id={cid}"


def test_faults_cover_routes(emulator: Emu) -> None:
    cid = integration(emulator)["id"]
    emulator.admin("PUT", "faults", {"fail_rate": 1.0, "fail_statuses": [503]})
    failed = req(emulator, "GET", ROUTES)
    assert failed.status_code == 503 and "nginx" in failed.text
    emulator.admin("PUT", "faults", {"fail_rate": 0.0, "drop_after_rate": 1.0})
    body = {"integration_id": cid, "routing_regex": "committed", "escalation_chain_id": None}
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        post(emulator, body)
    emulator.admin("PUT", "faults", {"drop_after_rate": 0.0})
    assert positions(emulator, cid) == [("committed", 0), (None, 0)]


def test_one_throttle_window_with_the_integrations_endpoint(emulator: Emu) -> None:
    cid = integration(emulator)["id"]  # the first request of the window
    emulator.admin("PUT", "faults", {"rate_limit": 4, "rate_window": 60})  # restored by the fixture
    assert req(emulator, "GET", ROUTES).status_code == 200
    assert req(emulator, "GET", INTEGRATIONS).status_code == 200
    assert route(emulator, cid, "x")["routing_regex"] == "x"
    for path in (ROUTES, INTEGRATIONS, f"{ROUTES}RNOSUCHROUTE1/"):
        response = req(emulator, "GET", path)
        assert response.status_code == 429, path
        assert response.json()["detail"].startswith("Request was throttled. Expected available in")
        assert response.headers["Retry-After"] == response.headers["RateLimit-Reset"]
    # A user of its own has a window of its own.
    assert req(emulator, "GET", ROUTES, token=VIEWER_TOKEN).status_code == 200


def test_routes_survive_a_restart_with_db(tmp_path: Path) -> None:
    db = tmp_path / "oncall.db"
    with EmulatorProcess(token=TOKEN, seed=SEED, db=db) as emu:
        created = integration(emu)
        rid = created["default_route"]["id"]
        put(emu, rid, {"escalation_chain_id": CHAIN_DEFAULT, "routing_regex": "stored"})
        route(emu, created["id"], "far", position=7)
        route(emu, created["id"], "front", position=0)
        before = listed(emu)["results"]
    with EmulatorProcess(token=TOKEN, db=db) as emu:
        assert listed(emu)["results"] == before
        again = req(emu, "GET", f"{INTEGRATIONS}{created['id']}/").json()
        assert again["default_route"]["escalation_chain_id"] == CHAIN_DEFAULT
        assert route(emu, created["id"], "next")["position"] == 9


def test_a_database_of_an_earlier_emulator_keeps_its_default_routes(tmp_path: Path) -> None:
    """Earlier emulators kept the default route inside the integration's row."""
    db = tmp_path / "old.db"
    data = {
        "description_short": None,
        "link_token": "tok",
        "inbound_email": None,
        "templates": {},
        "route": {
            "id": "ROLDDEFAULT01",
            "escalation_chain_id": CHAIN_DEFAULT,
            "backends": {"slack": {"channel_id": "C1", "enabled": False}},
        },
        "labels": [],
        "dynamic_labels": [],
    }
    with sqlite3.connect(db) as conn:
        conn.execute(
            "CREATE TABLE integrations (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL"
            " UNIQUE, type TEXT NOT NULL, name TEXT NOT NULL, team_id TEXT, hidden INTEGER NOT"
            " NULL DEFAULT 0, deleted INTEGER NOT NULL DEFAULT 0, created_at REAL NOT NULL,"
            " data TEXT NOT NULL)"
        )
        conn.execute(
            "INSERT INTO integrations (id, type, name, created_at, data)"
            " VALUES ('COLDINTEGRAT1', 'webhook', 'old', 0, ?)",
            (json.dumps(data),),
        )
    with EmulatorProcess(token=TOKEN, seed=SEED, db=db) as emu:
        shown = req(emu, "GET", f"{INTEGRATIONS}COLDINTEGRAT1/").json()["default_route"]
        assert shown["id"] == "ROLDDEFAULT01"
        assert shown["escalation_chain_id"] == CHAIN_DEFAULT
        assert shown["slack"] == {"channel_id": "C1", "enabled": False}
        obj = get(emu, "ROLDDEFAULT01").json()
        assert (obj["integration_id"], obj["is_the_last_route"]) == ("COLDINTEGRAT1", True)
        assert obj["slack"] == shown["slack"]
