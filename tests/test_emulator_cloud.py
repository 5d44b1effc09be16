"""The emulator as Grafana Cloud IRM and newer clients see it: service accounts, labels,
Cloud types, empty ids, and integrations seeded as if they already existed."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from emulator_http import HTTP, call
from emulator_seed import CHAIN_DEFAULT, SEED, TEAM_DATABASE, TEAM_PLATFORM, TOKEN, VIEWER_TOKEN

from pulumi_oncall._schema import CLOUD_TYPES, OSS_TYPES
from pulumi_oncall.emulator import EmulatorError, EmulatorProcess

INTEGRATIONS = "/api/v1/integrations/"
STACK = "https://acme.grafana.net"
SA_TOKEN = "glsa_editor0000000000000000000001"
SA_TOKEN_2 = "glsa_editor0000000000000000000002"
SA_VIEWER = "glsa_viewer0000000000000000000003"
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
INVALID_TOKEN = {"detail": "Invalid token."}
NOT_FOUND_ORG = {"detail": "Organization not found."}
SYNCING = {"detail": "Organization being synced, please retry."}
DENIED = {"detail": "You do not have permission to perform this action."}

Emu = EmulatorProcess


def _start(flavour: str, **kwargs: Any) -> EmulatorProcess:
    return EmulatorProcess(
        token=TOKEN,
        viewer_tokens=[VIEWER_TOKEN],
        service_account_tokens=[SA_TOKEN, SA_TOKEN_2],
        service_account_viewer_tokens=[SA_VIEWER],
        grafana_url=STACK,
        seed=SEED,
        extra_args=["--flavour", flavour, "--slack-connected", "--grafana-reachable"],
        **kwargs,
    ).start()


@pytest.fixture(scope="module")
def cloud_process() -> Iterator[EmulatorProcess]:
    emu = _start("cloud")
    yield emu
    emu.stop()


@pytest.fixture(scope="module")
def oss_process() -> Iterator[EmulatorProcess]:
    emu = _start("oss")
    yield emu
    emu.stop()


def _reset(emu: EmulatorProcess) -> EmulatorProcess:
    emu.admin("POST", "reset")
    return emu


@pytest.fixture
def cloud(cloud_process: EmulatorProcess) -> EmulatorProcess:
    return _reset(cloud_process)


@pytest.fixture
def oss(oss_process: EmulatorProcess) -> EmulatorProcess:
    return _reset(oss_process)


@pytest.fixture(params=["oss", "cloud"])
def emu(request: pytest.FixtureRequest) -> EmulatorProcess:
    """Each flavour in turn, with service accounts."""
    process: EmulatorProcess = request.getfixturevalue(f"{request.param}_process")
    return _reset(process)


def create(emu: Emu, **fields: Any) -> dict[str, Any]:
    response = call(emu, "POST", INTEGRATIONS, {"type": "webhook", **fields})
    assert response.status_code == 201, response.text
    return response.json()


def get(emu: Emu, integration_id: str) -> dict[str, Any]:
    response = call(emu, "GET", f"{INTEGRATIONS}{integration_id}/")
    assert response.status_code == 200, response.text
    return response.json()


def update(emu: Emu, integration_id: str, body: Any, method: str = "PUT") -> httpx.Response:
    return call(emu, method, f"{INTEGRATIONS}{integration_id}/", body)


def seed_one(emu: Emu, body: dict[str, Any]) -> httpx.Response:
    return HTTP.post(emu.url + "/emulator/integrations/", json=body)


def log(emu: Emu) -> list[tuple[str, int | None, str | None]]:
    entries = emu.admin("GET", "requests")["requests"]
    return [(e["method"], e["status"], e["user"]) for e in entries]


def labels(*pairs: tuple[str, str]) -> list[dict[str, Any]]:
    return [{"key": {"name": k}, "value": {"name": v}} for k, v in pairs]


def names(rendered: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(label["key"]["name"], label["value"]["name"]) for label in rendered]


# Service-account authentication, on both flavours


def test_service_account_reads_and_writes(emu: Emu) -> None:
    created = call(
        emu, "POST", INTEGRATIONS, {"type": "webhook"}, token=SA_TOKEN, grafana_url=STACK
    )
    assert created.status_code == 201, created.text
    path = f"{INTEGRATIONS}{created.json()['id']}/"
    # A trailing slash on the stack's URL does not matter.
    response = call(emu, "GET", path, token=SA_TOKEN, grafana_url=STACK + "/")
    assert response.json() == created.json()
    renamed = call(emu, "PATCH", path, {"name": "sa"}, token=SA_TOKEN, grafana_url=STACK)
    assert renamed.json()["name"] == "sa"
    assert call(emu, "DELETE", path, token=SA_TOKEN, grafana_url=STACK).status_code == 204
    with emu.client(SA_TOKEN) as client:  # headers() adds the stack beside a glsa_ token
        assert client.get(INTEGRATIONS).status_code == 200
    assert log(emu) == [
        ("POST", 201, "service-account-1"),
        ("GET", 200, "service-account-1"),
        ("PATCH", 200, "service-account-1"),
        ("DELETE", 204, "service-account-1"),
        ("GET", 200, "service-account-1"),
    ]


@pytest.mark.parametrize(
    "grafana_url",
    [None, "", "acme.grafana.net", "ftp://acme.grafana.net", "https://", "not a url"],
)
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_service_account_without_a_stack_url_is_organization_not_found(
    emu: Emu, grafana_url: str | None, method: str
) -> None:
    response = call(
        emu, method, INTEGRATIONS, {"type": "webhook"}, token=SA_TOKEN, grafana_url=grafana_url
    )
    assert (response.status_code, response.json()) == (403, NOT_FOUND_ORG)
    assert emu.admin("GET", "integrations")["integrations"] == []


@pytest.mark.parametrize("token", [SA_TOKEN, "glsa_unknown000000000000000000000"])
def test_service_account_of_another_stack_is_told_to_retry(emu: Emu, token: str) -> None:
    for other in ("https://other.grafana.net", "http://acme.grafana.net", STACK + "/x"):
        response = call(
            emu, "POST", INTEGRATIONS, {"type": "webhook"}, token=token, grafana_url=other
        )
        assert (response.status_code, response.json()) == (429, SYNCING), other
        assert response.headers["RateLimit-Reset"] == "350"
        assert "Retry-After" not in response.headers
    assert emu.admin("GET", "integrations")["integrations"] == []


@pytest.mark.parametrize(
    ("token", "grafana_url"),
    [
        ("glsa_unknown000000000000000000000", STACK),
        (f"Bearer {SA_TOKEN}", STACK),
        (f"Bearer {SA_TOKEN}", None),
        (SA_TOKEN.upper(), STACK),
    ],
    ids=["unknown", "bearer", "bearer-no-url", "wrong-case"],
)
def test_unknown_or_bearer_service_account_token_is_invalid(
    emu: Emu, token: str, grafana_url: str | None
) -> None:
    for method in ("GET", "POST"):
        response = call(
            emu, method, INTEGRATIONS, {"type": "webhook"}, token=token, grafana_url=grafana_url
        )
        assert (response.status_code, response.json()) == (403, INVALID_TOKEN), method


def test_read_only_service_account(emu: Emu) -> None:
    created = create(emu)
    path = f"{INTEGRATIONS}{created['id']}/"
    assert call(emu, "GET", path, token=SA_VIEWER, grafana_url=STACK).json() == created
    listed = call(emu, "GET", INTEGRATIONS, token=SA_VIEWER, grafana_url=STACK).json()
    assert listed["results"] == [created]
    for method, target in [
        ("POST", INTEGRATIONS),
        ("PUT", path),
        ("PATCH", path),
        ("DELETE", path),
    ]:
        response = call(
            emu,
            method,
            target,
            {"type": "webhook", "name": "x"},
            token=SA_VIEWER,
            grafana_url=STACK,
        )
        assert (response.status_code, response.json()) == (403, DENIED), method
    assert get(emu, created["id"]) == created
    assert [user for _, _, user in log(emu)] == ["admin", *["service-account-3"] * 6, "admin"]


@pytest.mark.parametrize("grafana_url", [STACK, "https://other.grafana.net", "garbage"])
def test_api_key_ignores_the_stack_header(emu: Emu, grafana_url: str) -> None:
    created = call(emu, "POST", INTEGRATIONS, {"type": "webhook"}, grafana_url=grafana_url)
    assert created.status_code == 201
    path = f"{INTEGRATIONS}{created.json()['id']}/"
    assert call(emu, "GET", path, grafana_url=grafana_url).json() == created.json()
    viewer = call(emu, "DELETE", path, token=VIEWER_TOKEN, grafana_url=grafana_url)
    assert (viewer.status_code, viewer.json()) == (403, DENIED)
    wrong = call(emu, "GET", path, token="wrong", grafana_url=grafana_url)
    assert (wrong.status_code, wrong.json()) == (403, INVALID_TOKEN)
    assert [user for _, _, user in log(emu)] == ["admin", "admin", "viewer", None]


def test_refused_requests_are_logged_without_tokens(emu: Emu) -> None:
    call(emu, "GET", INTEGRATIONS, token=SA_TOKEN)
    call(emu, "GET", INTEGRATIONS, token=SA_TOKEN, grafana_url="https://other.grafana.net")
    call(emu, "GET", INTEGRATIONS, token="glsa_nope", grafana_url=STACK)
    call(emu, "POST", INTEGRATIONS, {"type": "webhook"}, token=SA_VIEWER, grafana_url=STACK)
    call(emu, "GET", INTEGRATIONS, token=SA_TOKEN, grafana_url=STACK)
    assert log(emu) == [
        ("GET", 403, None),
        ("GET", 429, None),
        ("GET", 403, None),
        ("POST", 403, "service-account-3"),
        ("GET", 200, "service-account-1"),
    ]
    text = HTTP.get(emu.url + "/emulator/requests").text
    for secret in (SA_TOKEN, SA_VIEWER, "glsa_"):
        assert secret not in text


def test_each_service_account_has_its_own_rate_window(cloud: Emu) -> None:
    cloud.admin("PUT", "faults", {"rate_limit": 2, "rate_window": 60})
    try:
        for _ in range(2):
            assert call(cloud, "GET", INTEGRATIONS, token=SA_TOKEN, grafana_url=STACK).is_success
        throttled = call(cloud, "GET", INTEGRATIONS, token=SA_TOKEN, grafana_url=STACK)
        assert throttled.status_code == 429
        assert throttled.json()["detail"].startswith("Request was throttled.")
        assert "Retry-After" in throttled.headers
        for token in (SA_TOKEN_2, SA_VIEWER, TOKEN):
            response = call(cloud, "GET", INTEGRATIONS, token=token, grafana_url=STACK)
            assert response.status_code == 200, token
    finally:
        cloud.admin("PUT", "faults", {"rate_limit": 300, "rate_window": 60})


def test_service_account_tokens_stay_off_the_command_line(cloud: Emu) -> None:
    assert cloud.pid is not None
    cmdline = Path(f"/proc/{cloud.pid}/cmdline").read_bytes().decode()
    assert "--grafana-url" in cmdline and STACK in cmdline
    assert "glsa_" not in cmdline and TOKEN not in cmdline


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"service_account_tokens": [SA_TOKEN]}, "need --grafana-url"),
        ({"service_account_tokens": ["sa-token"], "grafana_url": STACK}, "start with glsa_"),
        ({"token": SA_TOKEN}, "is a service-account token"),
        ({"grafana_url": "acme.grafana.net"}, "must be an http"),
    ],
)
def test_service_account_settings_are_checked(kwargs: dict[str, Any], message: str) -> None:
    emu = EmulatorProcess(**{"token": TOKEN, **kwargs})
    with pytest.raises(EmulatorError, match=message):
        emu.start()
    assert SA_TOKEN not in emu.stderr_text()


# Labels on Grafana Cloud


def test_labels_are_returned_with_ids_in_an_order_of_their_own(cloud: Emu) -> None:
    sent = labels(("env", "prod"), ("team", "sre"), ("tier", "1"))
    dynamic = labels(("severity", "{{ payload.severity }}"), ("service", "{{ payload.svc }}"))
    obj = create(cloud, labels=sent, dynamic_labels=dynamic)
    assert list(obj)[-2:] == ["labels", "dynamic_labels"]
    assert sorted(names(obj["labels"])) == sorted(names(sent))
    assert sorted(names(obj["dynamic_labels"])) == sorted(names(dynamic))
    # Neither the order sent nor the order by name, for three labels or more.
    assert names(obj["labels"]) != names(sent)
    assert [k for k, _ in names(obj["labels"])] != sorted(k for k, _ in names(sent))
    assert names(obj["dynamic_labels"]) != names(dynamic)
    for label in obj["labels"]:
        assert set(label) == {"key", "value"}
        assert UUID.match(label["key"]["id"]) and UUID.match(label["value"]["id"])
    for label in obj["dynamic_labels"]:
        assert UUID.match(label["key"]["id"])
        assert label["value"]["id"] is None  # a template is no value of the key
    # Stable: every read shows the same order.
    assert get(cloud, obj["id"]) == obj
    assert call(cloud, "GET", INTEGRATIONS).json()["results"] == [obj]
    [row] = cloud.admin("GET", "integrations")["integrations"]
    assert (row["labels"], row["dynamic_labels"]) == (obj["labels"], obj["dynamic_labels"])


def test_two_labels_come_back_in_the_other_order(cloud: Emu) -> None:
    for sent in (labels(("a", "1"), ("b", "2")), labels(("b", "2"), ("a", "1"))):
        obj = create(cloud, name=str(sent), labels=sent, dynamic_labels=sent)
        assert names(obj["labels"]) == names(sent)[::-1]
        assert names(obj["dynamic_labels"]) == names(sent)[::-1]


def test_label_ids_are_stable_per_key_and_value(cloud: Emu) -> None:
    first = create(cloud, name="first", labels=labels(("env", "prod"), ("team", "sre")))
    second = create(
        cloud,
        name="second",
        labels=labels(("env", "dev"), ("team", "sre")),
        dynamic_labels=labels(("env", "{{ payload.env }}")),
    )

    def ids(obj: dict[str, Any], kind: str = "labels") -> dict[tuple[str, str], tuple[str, Any]]:
        return {
            (lb["key"]["name"], lb["value"]["name"]): (lb["key"]["id"], lb["value"]["id"])
            for lb in obj[kind]
        }

    a, b = ids(first), ids(second)
    assert a[("env", "prod")][0] == b[("env", "dev")][0]  # one id per key
    assert a[("env", "prod")][1] != b[("env", "dev")][1]
    assert a[("team", "sre")] == b[("team", "sre")]
    assert ids(second, "dynamic_labels")[("env", "{{ payload.env }}")][0] == a[("env", "prod")][0]
    # Survives the integration: the organisation's labels are not the integration's.
    assert call(cloud, "DELETE", f"{INTEGRATIONS}{first['id']}/").status_code == 204
    cloud.admin("POST", "reset")
    third = create(cloud, name="third", labels=labels(("team", "sre")))
    assert ids(third)[("team", "sre")] == a[("team", "sre")]


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_label_lists_replace_clear_or_stay(cloud: Emu, method: str) -> None:
    obj = create(
        cloud,
        labels=labels(("env", "prod"), ("team", "sre")),
        dynamic_labels=labels(("sev", "{{ payload.sev }}")),
    )
    path = obj["id"]
    refused = update(cloud, path, {"name": "renamed", "labels": None}, method)
    assert refused.status_code == 400  # null is not "leave alone"
    kept = update(cloud, path, {"name": "renamed"}, method).json()
    assert (kept["labels"], kept["dynamic_labels"]) == (obj["labels"], obj["dynamic_labels"])
    replaced = update(cloud, path, {"labels": labels(("env", "dev"))}, method).json()
    assert names(replaced["labels"]) == [("env", "dev")]
    assert replaced["dynamic_labels"] == obj["dynamic_labels"]
    cleared = update(cloud, path, {"dynamic_labels": []}, method).json()
    assert cleared["dynamic_labels"] == [] and cleared["labels"] == replaced["labels"]
    cleared = update(cloud, path, {"labels": []}, method).json()
    assert cleared["labels"] == []
    assert get(cloud, path) == cleared


def test_put_of_a_get_body_with_labels_round_trips(cloud: Emu) -> None:
    obj = create(cloud, labels=labels(("env", "prod"), ("team", "sre"), ("x", "y")))
    again = update(cloud, obj["id"], get(cloud, obj["id"])).json()
    assert sorted(names(again["labels"])) == sorted(names(obj["labels"]))
    assert {**again, "labels": None} == {**obj, "labels": None}


def test_label_names_are_read_like_drf_char_fields(cloud: Emu) -> None:
    obj = create(
        cloud,
        labels=[{"key": {"name": " env ", "id": "ignored"}, "value": {"name": 5}}],
        dynamic_labels=labels(("broken", "  {{ payload.x ")),
    )
    assert names(obj["labels"]) == [("env", "5")]
    assert obj["labels"][0]["key"]["id"] != "ignored"
    # Templates are kept as given, unchecked.
    assert names(obj["dynamic_labels"]) == [("broken", "  {{ payload.x ")]


@pytest.mark.parametrize(
    ("value", "errors"),
    [
        ({"env": "prod"}, ['Expected a list of items but got type "dict".']),
        ("env=prod", ['Expected a list of items but got type "str".']),
        (None, ["This field may not be null."]),
        (
            ["env"],
            [{"non_field_errors": ["Invalid data. Expected a dictionary, but got str."]}],
        ),
        (
            [{"key": {"name": "a"}, "value": {"name": "1"}}, {"key": {"name": "b"}}],
            [{}, {"value": ["This field is required."]}],
        ),
        (
            [{"key": "env", "value": None}],
            [
                {
                    "key": {
                        "non_field_errors": ["Invalid data. Expected a dictionary, but got str."]
                    },
                    "value": ["This field may not be null."],
                }
            ],
        ),
        (
            [{"key": {}, "value": {"name": None}}],
            [
                {
                    "key": {"name": ["This field is required."]},
                    "value": {"name": ["This field may not be null."]},
                }
            ],
        ),
        (
            [{"key": {"name": "  "}, "value": {"name": ["x"]}}],
            [
                {
                    "key": {"name": ["This field may not be blank."]},
                    "value": {"name": ["Not a valid string."]},
                }
            ],
        ),
        (
            labels(("env", "prod"), ("team", "a"), ("env", "dev")),
            ['Label key "env" is given more than once.'],
        ),
        # Label names are CharFields, with DRF's validators.
        (
            [
                {"key": {"name": "ok"}, "value": {"name": "fine"}},
                {"key": {"name": "e\x00nv"}, "value": {"name": "\x00"}},
            ],
            [
                {},
                {
                    "key": {"name": ["Null characters are not allowed."]},
                    "value": {"name": ["Null characters are not allowed."]},
                },
            ],
        ),
    ],
)
@pytest.mark.parametrize("field", ["labels", "dynamic_labels"])
def test_malformed_labels_are_field_errors(
    cloud: Emu, field: str, value: Any, errors: list[Any]
) -> None:
    response = call(cloud, "POST", INTEGRATIONS, {"type": "webhook", field: value, "name": None})
    assert response.status_code == 400
    assert response.json() == {"name": ["This field may not be null."], field: errors}
    assert cloud.admin("GET", "integrations")["integrations"] == []
    obj = create(cloud, labels=labels(("env", "prod")))
    assert update(cloud, obj["id"], {field: value, "name": "changed"}).status_code == 400
    assert get(cloud, obj["id"]) == obj


def test_labels_survive_a_restart_with_db(tmp_path: Path) -> None:
    db = tmp_path / "oncall.db"
    args = ["--flavour", "cloud"]
    with EmulatorProcess(token=TOKEN, db=db, extra_args=args) as emu:
        obj = create(
            emu,
            labels=labels(("env", "prod"), ("team", "sre"), ("tier", "1")),
            dynamic_labels=labels(("sev", "{{ payload.sev }}")),
        )
        url = emu.url
    with EmulatorProcess(token=TOKEN, db=db, extra_args=args) as emu:
        again = get(emu, obj["id"])
        assert again["labels"] == obj["labels"]  # same ids, same order
        assert again["dynamic_labels"] == obj["dynamic_labels"]
        assert again["link"] == obj["link"].replace(url, emu.url)
        other = create(emu, name="other", labels=labels(("env", "prod")))
        assert other["labels"] == [lb for lb in obj["labels"] if lb["key"]["name"] == "env"]


def test_open_source_drops_labels_silently(oss: Emu) -> None:
    shapes: list[Any] = [
        labels(("env", "prod")),
        {"env": "prod"},
        "env=prod",
        None,
        5,
        [{"key": None}],
    ]
    for n, shape in enumerate(shapes):
        body = {"labels": shape, "dynamic_labels": shape, "alert_group_labels": shape}
        obj = create(oss, name=f"i{n}", **body)
        for key in ("labels", "dynamic_labels", "alert_group_labels"):
            assert key not in obj
        response = update(oss, obj["id"], {**body, "description_short": "d"})
        assert response.status_code == 200
        assert response.json() == {**obj, "description_short": "d"}


# Types


def test_cloud_accepts_every_type(cloud: Emu) -> None:
    for itype in (*OSS_TYPES, *CLOUD_TYPES):
        obj = create(cloud, type=itype)
        assert obj["type"] == itype
        if itype not in ("manual", "inbound_email"):
            assert f"/integrations/v1/{itype}/" in obj["link"]
    assert {"curler", "fabric"} <= set(CLOUD_TYPES)


@pytest.mark.parametrize("itype", CLOUD_TYPES)
def test_open_source_refuses_cloud_types(oss: Emu, itype: str) -> None:
    response = call(oss, "POST", INTEGRATIONS, {"type": itype})
    assert (response.status_code, response.json()) == (400, {"detail": "Invalid integration type"})


# Empty ids read as null


def test_empty_ids_are_null_on_create_and_update(emu: Emu) -> None:
    obj = create(emu, team_id="", default_route={"escalation_chain_id": ""})
    assert obj["team_id"] is None
    assert obj["default_route"]["escalation_chain_id"] is None
    path = obj["id"]
    moved = update(
        emu,
        path,
        {"team_id": TEAM_PLATFORM, "default_route": {"escalation_chain_id": CHAIN_DEFAULT}},
    ).json()
    assert (moved["team_id"], moved["default_route"]["escalation_chain_id"]) == (
        TEAM_PLATFORM,
        CHAIN_DEFAULT,
    )
    for method in ("PUT", "PATCH"):
        cleared = update(
            emu, path, {"team_id": "", "default_route": {"escalation_chain_id": ""}}, method
        ).json()
        assert cleared["team_id"] is None
        assert cleared["default_route"]["escalation_chain_id"] is None
        update(emu, path, {"team_id": TEAM_PLATFORM})
    # Only relational fields: an empty name is still refused.
    response = update(emu, path, {"name": ""})
    assert response.json() == {"name": ["This field may not be blank."]}


def test_terraform_like_bodies(emu: Emu) -> None:
    """What Terraform's provider sends: every key, "" for no team, null templates."""
    templates: dict[str, Any] = {
        "grouping_key": None,
        "resolve_signal": "{{ payload.status == 'resolved' }}",
        "acknowledge_signal": None,
        "source_link": None,
        "slack": {"title": "{{ payload.title }}", "message": None, "image_url": None},
        "web": None,
        "msteams": None,
        "telegram": None,
        "phone_call": None,
        "sms": None,
        "email": None,
        "mobile_app": None,
    }
    body = {
        "team_id": "",
        "name": "from-terraform",
        "type": "alertmanager",
        "templates": templates,
        "default_route": {
            "id": "",
            "escalation_chain_id": CHAIN_DEFAULT,
            "slack": {"channel_id": None, "enabled": True},
            "telegram": {"id": None, "enabled": True},
            "msteams": {"id": None, "enabled": True},
        },
        "labels": [],
        "dynamic_labels": [],
    }
    response = call(emu, "POST", INTEGRATIONS, body)
    assert response.status_code == 201, response.text
    obj = response.json()
    assert obj["team_id"] is None and obj["name"] == "from-terraform"
    assert obj["templates"]["resolve_signal"] == templates["resolve_signal"]
    assert obj["default_route"]["escalation_chain_id"] == CHAIN_DEFAULT
    assert obj["default_route"]["id"].startswith("R")
    assert obj.get("labels", []) == [] and obj.get("dynamic_labels", []) == []
    update_body = {
        "name": "from-terraform",
        "team_id": "",
        "templates": templates,
        "default_route": {"id": obj["default_route"]["id"], "escalation_chain_id": ""},
    }
    response = update(emu, obj["id"], update_body)
    assert response.status_code == 200, response.text
    assert response.json()["default_route"]["escalation_chain_id"] is None


# Seeding integrations that the API cannot create


def test_admin_seeds_a_direct_paging_integration(cloud: Emu) -> None:
    response = seed_one(
        cloud,
        {
            "type": "direct_paging",
            "name": "Direct paging",
            "id": "CDIRECTPAGING",
            "team_id": TEAM_PLATFORM,
            "default_route": {"escalation_chain_id": CHAIN_DEFAULT},
            "labels": labels(("env", "prod")),
        },
    )
    assert response.status_code == 201, response.text
    obj = response.json()
    assert (obj["id"], obj["type"], obj["team_id"]) == (
        "CDIRECTPAGING",
        "direct_paging",
        TEAM_PLATFORM,
    )
    assert obj["link"].startswith(f"{cloud.url}/integrations/v1/direct_paging/")
    assert names(obj["labels"]) == [("env", "prod")]
    assert obj["dynamic_labels"] == []
    assert log(cloud) == []  # admin calls are not API requests
    assert get(cloud, obj["id"]) == obj
    assert call(cloud, "GET", INTEGRATIONS).json()["results"] == [obj]
    renamed = update(cloud, obj["id"], {"name": "Paging", "type": "webhook"}).json()
    assert (renamed["name"], renamed["type"]) == ("Paging", "direct_paging")
    refused = call(cloud, "DELETE", f"{INTEGRATIONS}{obj['id']}/")
    assert (refused.status_code, refused.json()) == (
        400,
        {"detail": "Direct paging integrations can't be deleted"},
    )
    assert get(cloud, obj["id"]) == renamed
    # One direct paging integration per team, when seeded or moved.
    taken = {"detail": "Direct paging integration already exists for this team"}
    again = seed_one(cloud, {"type": "direct_paging", "name": "other", "team_id": TEAM_PLATFORM})
    assert (again.status_code, again.json()) == (400, taken)
    other = seed_one(cloud, {"type": "direct_paging", "name": "other", "team_id": TEAM_DATABASE})
    assert other.status_code == 201
    moved = update(cloud, other.json()["id"], {"team_id": TEAM_PLATFORM})
    assert (moved.status_code, moved.json()) == (400, taken)


def test_admin_seeds_any_type(oss: Emu) -> None:
    for itype in ("legacy_alertmanager", "legacy_grafana_alerting", "slack_channel", "datadog"):
        response = seed_one(oss, {"type": itype, "name": itype})
        assert response.status_code == 201, response.text
        obj = response.json()
        # The server shows legacy types without their prefix.
        shown = itype.removeprefix("legacy_")
        assert obj["type"] == shown and f"/integrations/v1/{shown}/" in obj["link"]
        assert get(oss, obj["id"]) == obj
    manual = seed_one(oss, {"type": "manual", "name": "m", "labels": labels(("a", "b"))}).json()
    assert manual["link"] is None and "labels" not in manual
    hidden = seed_one(oss, {"type": "maintenance", "name": "maint"}).json()
    assert call(oss, "GET", f"{INTEGRATIONS}{hidden['id']}/").status_code == 404
    assert call(oss, "GET", INTEGRATIONS).json()["count"] == 5
    # Refusals of the public API are not applied; its checks of the fields are.
    assert call(oss, "POST", INTEGRATIONS, {"type": "legacy_alertmanager"}).status_code == 400


@pytest.mark.parametrize(
    ("body", "status", "answer"),
    [
        ({"name": "x"}, 400, {"type": ["This field is required."]}),
        ({"type": "", "name": "x"}, 400, {"type": ["This field may not be blank."]}),
        ({"type": 5, "name": "x"}, 400, {"type": ["Not a valid string."]}),
        ({"type": "webhook"}, 400, {"name": ["This field is required."]}),
        (
            {"type": "webhook", "name": "n" * 151},
            400,
            {"name": ["Ensure this field has no more than 150 characters."]},
        ),
        (
            {"type": "webhook", "name": "x", "id": ""},
            400,
            {"id": ["Must be a non-empty string or null."]},
        ),
        (
            {"type": "webhook", "name": "x", "team_id": "TNOPE"},
            400,
            {"team_id": ["Object does not exist"]},
        ),
        (
            {"type": "webhook", "name": "x", "templates": {"slack": {"title": "{{ broken"}}},
            400,
            {"detail": "invalid slack title template"},
        ),
        (
            {"type": "webhook", "name": "x", "labels": "env"},
            400,
            {"labels": ['Expected a list of items but got type "str".']},
        ),
        (
            {"type": "webhook", "name": "taken"},
            400,
            {"detail": "An integration with this name already exists for this team"},
        ),
        (
            {"type": "webhook", "name": "x", "id": "CTAKEN"},
            400,
            {"detail": "An integration with id CTAKEN already exists"},
        ),
    ],
)
def test_admin_seeding_checks_the_fields(
    cloud: Emu, body: dict[str, Any], status: int, answer: Any
) -> None:
    assert seed_one(cloud, {"type": "webhook", "name": "taken", "id": "CTAKEN"}).status_code == 201
    response = seed_one(cloud, body)
    assert (response.status_code, response.json()) == (status, answer)
    assert len(cloud.admin("GET", "integrations")["integrations"]) == 1


def test_seed_file_integrations(tmp_path: Path) -> None:
    varied: list[dict[str, Any]] = [
        {"type": t, "name": f"{t} {n}", "team_id": TEAM_PLATFORM if n % 2 else None}
        for n, t in enumerate([*OSS_TYPES, *CLOUD_TYPES])
    ]
    varied += [
        {"type": "direct_paging", "name": "Direct paging", "id": "CSEEDPAGING01"},
        {"type": "legacy_alertmanager", "name": "old am", "description_short": "legacy"},
        {
            "type": "webhook",
            "name": "routed",
            "id": "CSEEDROUTED01",
            "templates": {"grouping_key": "{{ payload.id }}"},
            "default_route": {"escalation_chain_id": CHAIN_DEFAULT},
            "labels": labels(("env", "prod")),
            "dynamic_labels": labels(("sev", "{{ payload.sev }}")),
        },
    ]
    seed = {**SEED, "integrations": varied}
    db = tmp_path / "oncall.db"
    args = ["--flavour", "cloud"]
    with EmulatorProcess(token=TOKEN, seed=seed, db=db, extra_args=args) as emu:
        page = call(emu, "GET", INTEGRATIONS, params={"perpage": 10}).json()
        assert page["count"] == len(varied) >= 25 and page["total_pages"] == 3
        routed = get(emu, "CSEEDROUTED01")
        assert routed["templates"]["grouping_key"] == "{{ payload.id }}"
        assert routed["default_route"]["escalation_chain_id"] == CHAIN_DEFAULT
        assert names(routed["labels"]) == [("env", "prod")]
        assert get(emu, "CSEEDPAGING01")["type"] == "direct_paging"
        assert call(emu, "DELETE", f"{INTEGRATIONS}CSEEDROUTED01/").status_code == 204
    # The same seed on the same database keeps what is there.
    with EmulatorProcess(token=TOKEN, seed=seed, db=db, extra_args=args) as emu:
        assert call(emu, "GET", INTEGRATIONS).json()["count"] == len(varied) - 1
        assert call(emu, "GET", f"{INTEGRATIONS}CSEEDROUTED01/").status_code == 404


@pytest.mark.parametrize(
    ("integrations", "message"),
    [
        ({"type": "webhook"}, "integrations must be a list of objects"),
        (
            [
                {"type": "webhook", "name": "a"},
                {"type": "webhook", "name": "b", "team_id": "TNOPE"},
            ],
            r'seed integrations\[1\]: \{"team_id": \["Object does not exist"\]\}',
        ),
        (
            [{"type": "webhook", "name": "a"}, {"type": "webhook", "name": "a", "id": "CX"}],
            r"seed integrations\[1\]: .*already exists for this team",
        ),
    ],
)
def test_seed_file_integrations_are_checked(integrations: Any, message: str) -> None:
    emu = EmulatorProcess(token=TOKEN, seed={**SEED, "integrations": integrations})
    with pytest.raises(EmulatorError, match=message):
        emu.start()


def test_help_documents_service_accounts_labels_and_seeding() -> None:
    root = str(Path(__file__).resolve().parents[1])
    shown = subprocess.run(
        [sys.executable, "-m", "pulumi_oncall.emulator", "--help"],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": root},
        timeout=30,
    )
    assert shown.returncode == 0
    for text in (
        "--grafana-url",
        "--service-account-token",
        "--service-account-viewer-token",
        "ONCALL_EMULATOR_SERVICE_ACCOUNT_TOKENS",
        "ONCALL_EMULATOR_SERVICE_ACCOUNT_VIEWER_TOKENS",
        "POST   /emulator/integrations",
        "dynamic_labels",
    ):
        assert text in shown.stdout, text


# The service_name label that Grafana Cloud adds to grafana_alerting integrations

SERVICE_LABEL = ("service_name", "{{ payload.commonLabels.service_name }}")


@pytest.fixture
def service_label(cloud: Emu) -> Iterator[Emu]:
    """The cloud emulator; the service_name settings a test changes are restored after."""
    before = cloud.admin("GET", "settings")
    yield cloud
    cloud.admin("PUT", "settings", before)


def late(emu: Emu, delay: float) -> None:
    emu.admin("PUT", "settings", {"service_name_label": "later", "service_name_label_delay": delay})


def test_grafana_alerting_gets_the_service_name_label_by_default(cloud: Emu) -> None:
    assert cloud.admin("GET", "settings")["service_name_label"] == "now"
    obj = create(cloud, type="grafana_alerting")
    assert names(obj["dynamic_labels"]) == [SERVICE_LABEL]
    [label] = obj["dynamic_labels"]
    assert UUID.match(label["key"]["id"]) and label["value"]["id"] is None
    assert obj["labels"] == []
    assert get(cloud, obj["id"]) == obj
    assert call(cloud, "GET", INTEGRATIONS).json()["results"] == [obj]
    # Only grafana_alerting integrations.
    for itype in ("webhook", "alertmanager", "grafana"):
        assert create(cloud, type=itype)["dynamic_labels"] == []


def test_the_service_name_label_joins_declared_dynamic_labels(cloud: Emu) -> None:
    sev = ("sev", "{{ payload.sev }}")
    obj = create(
        cloud,
        type="grafana_alerting",
        dynamic_labels=labels(sev),
        labels=labels(("service_name", "static")),
    )
    # A static label of that key does not stop it: Cloud looks among the dynamic ones.
    assert sorted(names(obj["dynamic_labels"])) == sorted([SERVICE_LABEL, sev])
    assert names(obj["labels"]) == [("service_name", "static")]
    ids = {label["key"]["name"]: label["key"]["id"] for label in obj["dynamic_labels"]}
    assert ids["service_name"] == obj["labels"][0]["key"]["id"]  # the organisation's key


def test_a_declared_service_name_label_is_kept_as_declared(cloud: Emu) -> None:
    mine = ("service_name", "{{ payload.labels.app }}")
    obj = create(cloud, type="grafana_alerting", dynamic_labels=labels(mine))
    assert names(obj["dynamic_labels"]) == [mine]


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_updates_never_add_the_service_name_label(service_label: Emu, method: str) -> None:
    obj = create(service_label, type="grafana_alerting")
    cleared = update(service_label, obj["id"], {"dynamic_labels": []}, method).json()
    assert cleared["dynamic_labels"] == []
    renamed = update(service_label, obj["id"], {"name": "renamed"}, method).json()
    assert renamed["dynamic_labels"] == []
    service_label.admin("PUT", "settings", {"service_name_label": "off"})
    plain = create(service_label, type="grafana_alerting", name="plain")
    assert plain["dynamic_labels"] == []
    service_label.admin("PUT", "settings", {"service_name_label": "now"})
    relabelled = update(service_label, plain["id"], {"labels": labels(("env", "prod"))}).json()
    assert relabelled["dynamic_labels"] == []
    assert get(service_label, plain["id"])["dynamic_labels"] == []


def test_the_late_service_name_label_comes_on_a_request_after_the_delay(
    service_label: Emu,
) -> None:
    late(service_label, 3600)
    obj = create(service_label, type="grafana_alerting", dynamic_labels=labels(("a", "1")))
    assert names(obj["dynamic_labels"]) == [("a", "1")]
    assert names(get(service_label, obj["id"])["dynamic_labels"]) == [("a", "1")]
    # The delay counts from the create, with the delay as it is at each request.
    service_label.admin("PUT", "settings", {"service_name_label_delay": 0})
    # Any request, of any endpoint, adds what is due before it is answered.
    listed = call(service_label, "GET", "/api/v1/escalation_chains/")
    assert listed.status_code == 200
    after = get(service_label, obj["id"])
    assert sorted(names(after["dynamic_labels"])) == [("a", "1"), SERVICE_LABEL]
    assert names(create(service_label, type="grafana_alerting", name="b")["dynamic_labels"]) == []


def test_the_late_label_meets_the_integration_as_it_is_by_then(service_label: Emu) -> None:
    late(service_label, 3600)
    cleared = create(service_label, type="grafana_alerting", name="cleared")
    declared = create(service_label, type="grafana_alerting", name="declared")
    deleted = create(service_label, type="grafana_alerting", name="deleted")
    assert update(service_label, cleared["id"], {"dynamic_labels": []}).status_code == 200
    mine = ("service_name", "{{ payload.mine }}")
    update(service_label, declared["id"], {"dynamic_labels": labels(mine)})
    assert call(service_label, "DELETE", f"{INTEGRATIONS}{deleted['id']}/").status_code == 204
    service_label.admin("PUT", "settings", {"service_name_label_delay": 0})
    assert names(get(service_label, cleared["id"])["dynamic_labels"]) == [SERVICE_LABEL]
    assert names(get(service_label, declared["id"])["dynamic_labels"]) == [mine]
    gone = call(service_label, "GET", f"{INTEGRATIONS}{deleted['id']}/")
    assert gone.status_code == 404


def test_admin_reads_see_the_late_label(service_label: Emu) -> None:
    late(service_label, 3600)
    create(service_label, type="grafana_alerting")
    service_label.admin("PUT", "settings", {"service_name_label_delay": 0})
    [row] = service_label.admin("GET", "integrations")["integrations"]
    assert names(row["dynamic_labels"]) == [SERVICE_LABEL]
    assert log(service_label) == [("POST", 201, "admin")]  # added without an API request


def test_seeded_grafana_alerting_integrations_get_no_label(cloud: Emu) -> None:
    response = seed_one(cloud, {"type": "grafana_alerting", "name": "existing"})
    assert response.status_code == 201, response.text
    assert response.json()["dynamic_labels"] == []
    assert get(cloud, response.json()["id"])["dynamic_labels"] == []


def test_open_source_adds_no_label(oss: Emu) -> None:
    assert oss.admin("GET", "settings")["service_name_label"] == "off"
    obj = create(oss, type="grafana_alerting")
    assert "dynamic_labels" not in obj and "labels" not in obj
    refused = HTTP.put(oss.url + "/emulator/settings/", json={"service_name_label": "now"})
    assert refused.status_code == 400
    assert "cloud flavour" in refused.json()["detail"]


@pytest.mark.parametrize(
    "changes",
    [
        {"service_name_label": "sometimes"},
        {"service_name_label": None},
        {"service_name_label_delay": -1},
        {"service_name_label_delay": "soon"},
        {"service_name_label_delay": True},
        {"service_name_label": "later", "service_name_label_delay": float("inf")},
        {"service_name_label": "off", "slack_connected": "yes"},
    ],
)
def test_service_label_settings_are_checked(service_label: Emu, changes: dict[str, Any]) -> None:
    before = service_label.admin("GET", "settings")
    body = json.dumps(changes).replace("Infinity", "1e999")
    response = HTTP.put(
        service_label.url + "/emulator/settings/",
        content=body,
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400, response.text
    assert service_label.admin("GET", "settings") == before  # all or nothing


@pytest.mark.parametrize(
    ("args", "created"),
    [
        (["--service-name-label", "off"], []),
        (["--service-name-label", "now"], [SERVICE_LABEL]),
        ([], [SERVICE_LABEL]),
    ],
)
def test_service_label_flag(args: list[str], created: list[tuple[str, str]]) -> None:
    extra = ["--flavour", "cloud", "--grafana-reachable", *args]
    with EmulatorProcess(token=TOKEN, extra_args=extra) as emu:
        assert names(create(emu, type="grafana_alerting")["dynamic_labels"]) == created


def test_service_label_flag_is_checked() -> None:
    for args, message in [
        (["--service-name-label", "now"], "needs labels: the cloud flavour"),
        (["--flavour", "cloud", "--service-name-label-delay", "-1"], "number of seconds"),
        (["--flavour", "cloud", "--service-name-label", "never"], "invalid choice"),
    ]:
        with pytest.raises(EmulatorError, match=message):
            EmulatorProcess(token=TOKEN, extra_args=args).start()


def test_a_pending_label_survives_a_restart_with_db(tmp_path: Path) -> None:
    db = tmp_path / "oncall.db"
    cloud_args = ["--flavour", "cloud", "--grafana-reachable", "--service-name-label", "later"]
    with EmulatorProcess(
        token=TOKEN, db=db, extra_args=[*cloud_args, "--service-name-label-delay", "3600"]
    ) as emu:
        obj = create(emu, type="grafana_alerting")
        assert obj["dynamic_labels"] == []
    with EmulatorProcess(
        token=TOKEN, db=db, extra_args=[*cloud_args, "--service-name-label-delay", "0"]
    ) as emu:
        assert names(get(emu, obj["id"])["dynamic_labels"]) == [SERVICE_LABEL]
