"""Ordered routes through the real CLI: deploy, settle, and each kind of change with the
fewest writes, counted from the emulator's request log."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
from e2e_support import OnCall, Project
from emulator_seed import CHAIN_DEFAULT, CHAIN_URGENT, TOKEN
from test_adoption_e2e import export

CRITICAL = {"routing_regex": '"severity": "critical"', "escalation_chain_id": CHAIN_URGENT}
DATABASE = {"routing_regex": '{{ payload.labels.team == "db" }}', "routing_type": "jinja2"}
PADDED = {"routing_regex": "  prod \n", "name": "prod"}


def server_routes(oncall: OnCall, integration_id: str) -> list[dict[str, Any]]:
    response = httpx.get(
        f"{oncall.url}/api/v1/routes/",
        params={"integration_id": integration_id, "perpage": 100},
        headers={"Authorization": TOKEN},
    )
    response.raise_for_status()
    return [r for r in response.json()["results"] if not r["is_the_last_route"]]


def regexes(oncall: OnCall, integration_id: str) -> list[str]:
    return [r["routing_regex"] for r in server_routes(oncall, integration_id)]


def route_writes(oncall: OnCall) -> list[tuple[str, str]]:
    return [
        (r["method"], r["path"])
        for r in oncall.api_requests()
        if r["method"] != "GET" and "/routes/" in r["path"]
    ]


def deploy(project: Project, oncall: OnCall, routes: list[dict[str, Any]]) -> list[str]:
    """`up` with these routes; the methods of the route writes it made."""
    project.spec({"am": {"type": "alertmanager", "routes": routes}})
    oncall.clear_requests()
    project.up()
    writes = [method for method, _ in route_writes(oncall)]
    project.assert_no_changes()
    return writes


def test_routes_deploy_in_order_settle_and_change_with_the_fewest_writes(
    project: Project, oncall: OnCall
) -> None:
    assert deploy(project, oncall, [CRITICAL, DATABASE, PADDED]) == ["POST"] * 3
    integration_id = oncall.live()["am"]["id"]
    first = server_routes(oncall, integration_id)
    assert [r["routing_regex"] for r in first] == [
        CRITICAL["routing_regex"],
        DATABASE["routing_regex"],
        "prod",
    ]
    assert [r["routing_type"] for r in first] == ["regex", "jinja2", "regex"]
    assert [r["escalation_chain_id"] for r in first] == [CHAIN_URGENT, None, None]
    outputs = project.outputs()
    assert outputs["am.id"] == integration_id

    front = {"routing_regex": "front", "escalation_chain_id": CHAIN_DEFAULT}
    assert deploy(project, oncall, [front, CRITICAL, DATABASE, PADDED]) == ["POST"]
    assert regexes(oncall, integration_id)[0] == "front"

    reversed_ = [PADDED, DATABASE, CRITICAL, front]
    writes = deploy(project, oncall, reversed_)
    assert writes and set(writes) == {"PUT"} and len(writes) <= 3
    assert regexes(oncall, integration_id) == [
        "prod",
        DATABASE["routing_regex"],
        CRITICAL["routing_regex"],
        "front",
    ]

    kept_ids = [r["id"] for r in server_routes(oncall, integration_id)]
    edited = [PADDED, {**DATABASE, "routing_regex": "{{ payload.team == 'db' }}"}, CRITICAL, front]
    assert deploy(project, oncall, edited) == ["PUT"]
    assert [r["id"] for r in server_routes(oncall, integration_id)] == kept_ids

    assert deploy(project, oncall, [PADDED, edited[1], front]) == ["DELETE"]
    assert regexes(oncall, integration_id) == ["prod", "{{ payload.team == 'db' }}", "front"]

    # The API cannot clear a chain in place: the route is replaced, created first.
    cleared = [PADDED, edited[1], {**front, "escalation_chain_id": ""}]
    assert deploy(project, oncall, cleared) == ["POST", "DELETE"]
    after = server_routes(oncall, integration_id)
    assert [r["routing_regex"] for r in after] == ["prod", "{{ payload.team == 'db' }}", "front"]
    assert after[2]["escalation_chain_id"] is None

    # Removing the argument clears them; the default route stays.
    assert deploy(project, oncall, []) == ["DELETE"] * 3
    project.spec({"am": {"type": "alertmanager"}})
    project.up()
    project.assert_no_changes()
    assert server_routes(oncall, integration_id) == []


def test_out_of_band_routes_and_edits_show_on_refresh_and_up_undoes_them(
    project: Project, oncall: OnCall
) -> None:
    deploy(project, oncall, [CRITICAL, PADDED])
    integration_id = oncall.live()["am"]["id"]
    _, prod = server_routes(oncall, integration_id)
    headers = {"Authorization": TOKEN}
    httpx.post(
        f"{oncall.url}/api/v1/routes/",
        headers=headers,
        json={
            "integration_id": integration_id,
            "routing_regex": "clicked",
            "escalation_chain_id": None,
        },
    ).raise_for_status()
    httpx.put(
        f"{oncall.url}/api/v1/routes/{prod['id']}/",
        headers=headers,
        json={"routing_regex": "edited", "routing_type": "regex"},
    ).raise_for_status()

    refreshed = project.run("refresh", "--yes", "--diff").stdout
    assert "clicked" in refreshed and "edited" in refreshed
    oncall.clear_requests()
    project.up()
    assert regexes(oncall, integration_id) == [CRITICAL["routing_regex"], "prod"]
    assert sorted(m for m, _ in route_writes(oncall)) == ["DELETE", "PUT"]
    project.assert_no_changes()


def test_routes_never_declared_are_not_managed(project: Project, oncall: OnCall) -> None:
    project.spec({"am": {"type": "alertmanager"}})
    project.up()
    integration_id = oncall.live()["am"]["id"]
    httpx.post(
        f"{oncall.url}/api/v1/routes/",
        headers={"Authorization": TOKEN},
        json={"integration_id": integration_id, "routing_regex": "ui", "escalation_chain_id": None},
    ).raise_for_status()
    project.run("refresh", "--yes")
    project.assert_no_changes()
    assert regexes(oncall, integration_id) == ["ui"]


def test_import_id_adopts_matching_routes_with_zero_writes(
    project: Project, oncall: OnCall
) -> None:
    existing = oncall.create({"type": "webhook", "name": "Legacy"})
    for body in (CRITICAL, {"routing_regex": "prod", "escalation_chain_id": None}):
        httpx.post(
            f"{oncall.url}/api/v1/routes/",
            headers={"Authorization": TOKEN},
            json={"integration_id": existing["id"], **body},
        ).raise_for_status()
    project.spec(
        {
            "legacy": {
                "type": "webhook",
                "import_id": existing["id"],
                "routes": [CRITICAL, {"routing_regex": "prod", "name": "prod"}],
            }
        }
    )
    oncall.clear_requests()
    project.up()
    assert [r for r in oncall.api_requests() if r["method"] != "GET"] == []
    project.assert_no_changes()


def test_export_writes_routes_in_order_and_up_of_it_changes_nothing(
    tmp_path: Path, emulator: Any, oncall: OnCall
) -> None:
    existing = oncall.create({"type": "alertmanager", "name": "Prometheus"})
    long_regex = "x" * 120
    for body in (
        CRITICAL,
        {"routing_regex": "{{ 'db' in payload.labels }}", "routing_type": "jinja2"},
        {"routing_regex": long_regex, "escalation_chain_id": CHAIN_DEFAULT},
    ):
        httpx.post(
            f"{oncall.url}/api/v1/routes/",
            headers={"Authorization": TOKEN},
            json={"integration_id": existing["id"], "escalation_chain_id": None, **body},
        ).raise_for_status()
    before = server_routes(oncall, existing["id"])
    source = tmp_path / "exported-source"
    source.mkdir()
    text = export(emulator, source / "__main__.py")
    assert text.index('"severity": "critical"') < text.index("'db' in") < text.index(long_regex)
    lint = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--isolated", "--check", str(source)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr + text
    project = Project(tmp_path, emulator.url, source=source, name="exported")
    oncall.clear_requests()
    project.up()
    assert [r for r in oncall.api_requests() if r["method"] != "GET"] == []
    project.assert_no_changes()
    assert server_routes(oncall, existing["id"]) == before


BAD_ROUTES = {
    "labels type": ([{"routing_regex": "x", "routing_type": "labels"}], "public API refuses"),
    "unknown type": ([{"routing_regex": "x", "routing_type": "regexp"}], "routing_type"),
    "bad regex": ([{"routing_regex": "(unclosed"}], "the regex does not compile"),
    "bad jinja": (
        [{"routing_regex": "{{ payload.x ", "routing_type": "jinja2"}],
        "Jinja2 route does not compile",
    ),
    "blank": ([{"routing_regex": "   "}], "must not be blank"),
    "too long": ([{"routing_regex": "x" * 1025}], "the limit is 1024"),
    "missing regex": ([{"escalation_chain_id": CHAIN_URGENT}], "routing_regex is required"),
    "typo": ([{"routing_regex": "x", "slak": {"channel_id": "C1"}}], "unknown key 'slak'"),
    "same name": (
        [{"routing_regex": "a", "name": "db"}, {"routing_regex": "b", "name": "db"}],
        "routes[1] ('db')",
    ),
    "cloud backend": (
        [{"routing_regex": "x", "msteams": {"id": "TEAMS1"}}],
        "no msteams backend (it exists only on Grafana Cloud)",
    ),
    "unknown chain": (
        [{"routing_regex": "a", "name": "paging", "escalation_chain_id": "FCHAINURGENT2"}],
        "did you mean 'FCHAINURGENT1'",
    ),
}


def test_bad_routes_fail_the_preview_naming_the_route_with_no_write(
    project: Project, oncall: OnCall
) -> None:
    # One preview each: the engine stops a preview at its first failed check.
    oncall.create({"type": "webhook", "name": "tells what the server supports"})
    for label, (routes, expected) in BAD_ROUTES.items():
        project.spec({"am": {"type": "alertmanager", "routes": routes}})
        oncall.clear_requests()
        proc = project.run("preview", check=False)
        text = proc.stdout + proc.stderr
        assert proc.returncode != 0, label
        assert expected in text, f"{label}: {expected!r} missing from\n{text}"
        assert "routes[" in text and "Traceback" not in text, label
        paths = {r["path"] for r in oncall.api_requests()}
        # Caught before any call; the unknown chain with the cached list of chains only.
        allowed = {
            "unknown chain": {"/api/v1/escalation_chains/", "/api/v1/teams/"},
            "cloud backend": {"/api/v1/integrations/"},
        }.get(label, set())
        assert paths <= allowed, (label, paths)
