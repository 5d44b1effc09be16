"""Bringing existing integrations under management, through the real CLI: refusing to
take one over silently, `import_id`, `export`, lookups, and references checked at preview.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
from e2e_support import TESTS, OnCall, Project
from emulator_seed import CHAIN_DEFAULT, CHAIN_URGENT, TEAM_DATABASE, TEAM_PLATFORM, TOKEN


def writes(oncall: OnCall) -> list[tuple[str, str]]:
    return [(r["method"], r["path"]) for r in oncall.api_requests() if r["method"] != "GET"]


def test_an_existing_name_fails_with_its_id_then_import_id_adopts_it(
    project: Project, oncall: OnCall
) -> None:
    existing = oncall.create(
        {
            "type": "webhook",
            "name": "Legacy",
            "description_short": "made in the UI",
            "templates": {"web": {"title": "old"}, "sms": {"title": "kept"}},
        }
    )
    declared = {"type": "webhook", "name": "Legacy", "templates": {"web": {"title": "new"}}}
    project.spec({"legacy": declared})
    failed = project.run("up", "--yes", "--skip-preview", check=False)
    assert failed.returncode != 0
    assert "already exists" in failed.stdout
    assert f"import_id={existing['id']!r}" in failed.stdout and "name=" in failed.stdout
    assert "Traceback" not in failed.stdout + failed.stderr
    assert list(oncall.live()) == ["Legacy"]
    assert project.integrations_in_state() == []

    oncall.clear_requests()
    project.spec({"legacy": {**declared, "import_id": existing["id"]}})
    project.up()
    assert writes(oncall) == [("PUT", f"/api/v1/integrations/{existing['id']}/")]
    after = oncall.get(existing["id"]).json()
    assert after["templates"]["web"]["title"] == "new"
    assert after["templates"]["sms"]["title"] == "kept"
    assert after["description_short"] == "made in the UI"
    assert after["link"] == existing["link"]
    assert [r["id"] for r in project.integrations_in_state()] == [existing["id"]]
    project.assert_no_changes()
    project.spec({"legacy": declared})  # import_id is inert once adopted
    project.assert_no_changes()


def test_lookups_and_get_resolve_by_name_and_id(
    tmp_path: Path, emulator: Any, oncall: OnCall
) -> None:
    existing = oncall.create(
        {"type": "alertmanager", "name": "Prometheus", "templates": {"web": {"title": "t"}}}
    )
    project = Project(tmp_path, emulator.url, source=TESTS / "programs" / "lookups")
    for key, value in {
        "teamName": "database",
        "chainName": "urgent",
        "existingId": existing["id"],
        "existingName": "Prometheus",
    }.items():
        project.run("config", "set", key, value)
    project.up()
    outputs = project.outputs()
    assert outputs["team_id"] == TEAM_DATABASE
    assert outputs["chain_id"] == outputs["chain_output_id"] == CHAIN_URGENT
    routed = oncall.live()["Routed by name"]
    assert routed["team_id"] == TEAM_DATABASE
    assert routed["default_route"]["escalation_chain_id"] == CHAIN_URGENT
    assert outputs["existing_name"] == "Prometheus"
    assert outputs["existing_templates"] == {"web": {"title": "t"}}
    assert outputs["existing_link"] == existing["link"]
    assert outputs["info"] == {
        "id": existing["id"],
        "type": "alertmanager",
        "templates": {"web": {"title": "t"}},
    }
    shown = json.loads(project.run("stack", "output", "--json").stdout)
    assert shown["existing_link"] == "[secret]"
    project.assert_no_changes()
    project.run("destroy", "--yes")
    assert list(oncall.live()) == ["Prometheus"]  # read, never managed

    project.run("config", "set", "chainName", "urgnt")
    oncall.clear_requests()
    failed = project.run("preview", check=False)
    text = failed.stdout + failed.stderr
    assert failed.returncode != 0
    assert "no escalation chain named 'urgnt'" in text and "did you mean 'urgent'?" in text
    assert "Traceback" not in text and TOKEN not in text
    assert len(oncall.api_requests()) <= 2


def test_a_wrong_chain_id_fails_the_preview_with_the_name_in_two_calls(
    project: Project, oncall: OnCall
) -> None:
    project.spec(
        {
            "a": {"type": "webhook", "name": "A", "team_id": TEAM_PLATFORM},
            "b": {
                "type": "webhook",
                "name": "B",
                "default_route": {"escalation_chain_id": CHAIN_URGENT[:-1]},
            },
        }
    )
    oncall.clear_requests()
    preview = project.run("preview", check=False)
    text = preview.stdout + preview.stderr
    assert preview.returncode != 0
    assert "default_route.escalation_chain_id" in text
    assert f"did you mean {CHAIN_URGENT!r} ('urgent')?" in text
    assert "Traceback" not in text
    assert len(oncall.api_requests()) <= 2
    assert oncall.live() == {}


def test_an_empty_team_id_means_no_team_and_settles(project: Project, oncall: OnCall) -> None:
    project.spec(
        {
            "x": {
                "type": "webhook",
                "name": "No team",
                "team_id": "",
                "default_route": {"escalation_chain_id": ""},
            }
        }
    )
    project.up()
    remote = oncall.live()["No team"]
    assert remote["team_id"] is None
    assert remote["default_route"]["escalation_chain_id"] is None
    project.assert_no_changes()
    # Managed as "no team": a move in the UI shows up as drift and is undone.
    oncall.put(remote["id"], {"team_id": TEAM_PLATFORM})
    project.run("refresh", "--yes")
    project.up()
    assert oncall.get(remote["id"]).json()["team_id"] is None


def seed_org(emulator: Any) -> None:
    """27 varied integrations, made as the UI would, plus one direct paging."""
    bodies: list[dict[str, Any]] = []
    types = ["alertmanager", "grafana", "webhook", "formatted_webhook", "kapacitor"]
    for i in range(20):
        body: dict[str, Any] = {
            "type": types[i % len(types)],
            "name": f"Service {i:02d}" if i % 7 else "Alertmanager",
            "team_id": [None, TEAM_PLATFORM, TEAM_DATABASE][i % 3],
        }
        if i % 2:
            body["templates"] = {
                "grouping_key": "{{ payload.groupKey }}",
                "resolve_signal": '{{ payload.status == "resolved" }}',
                "web": {
                    "title": f"Service {i} {{{{ payload.title }}}}",
                    "message": "line 1\nline 2",
                },
            }
        if i % 4 == 0:
            body["default_route"] = {
                "escalation_chain_id": CHAIN_DEFAULT if i % 8 else CHAIN_URGENT,
                "slack": {"channel_id": f"C{i:04d}", "enabled": i % 8 == 0},
            }
        if i % 5 == 0:
            body["description_short"] = f"Owned by team {i}"
        bodies.append(body)
    bodies += [
        {"type": "elastalert", "name": "ElastAlert"},
        {"type": "zabbix", "name": "Zabbix", "default_route": {"telegram": {"id": "T1"}}},
        {"type": "manual", "name": "Manual"},
        {"type": "inbound_email", "name": "Inbound email"},
        {"type": "grafana_alerting", "name": "Grafana Alerting :blush:"},
        {"type": "legacy_alertmanager", "name": "Old Alertmanager"},
        {"type": "webhook", "name": "class", "templates": {"sms": {"title": 'it\'s "quoted"'}}},
        {"type": "direct_paging", "name": "Direct paging", "team_id": TEAM_PLATFORM},
    ]
    for body in bodies:
        emulator.admin("POST", "integrations", body)


def export(emulator: Any, output: Path, *extra: str) -> str:
    env = {**os.environ, "GRAFANA_ONCALL_ACCESS_TOKEN": TOKEN}
    env.pop("GRAFANA_ONCALL_URL", None)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pulumi_oncall",
            "export",
            "--url",
            emulator.url,
            "-o",
            str(output),
            *extra,
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert TOKEN not in done.stdout + done.stderr
    return output.read_text()


def everything(oncall: OnCall) -> list[dict[str, Any]]:
    response = httpx.get(
        f"{oncall.url}/api/v1/integrations/",
        params={"perpage": 1000},
        headers={"Authorization": oncall.token},
    )
    response.raise_for_status()
    results: list[dict[str, Any]] = response.json()["results"]
    return results


def test_export_then_up_adopts_everything_unchanged(
    tmp_path: Path, emulator: Any, oncall: OnCall
) -> None:
    emulator.admin("PUT", "settings", {"grafana_reachable": True})
    seed_org(emulator)
    before = everything(oncall)
    assert len(before) == 28

    source = tmp_path / "export-source"
    source.mkdir()
    text = export(emulator, source / "__main__.py")
    assert text.count("Integration(\n") == 27
    assert "# Left out: 'Direct paging'" in text and "neither create nor delete" in text
    lint = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--isolated", "--check", str(source)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr

    project = Project(tmp_path, emulator.url, source=source, name="exported")
    oncall.clear_requests()
    project.up()
    assert writes(oncall) == []
    assert len(project.integrations_in_state()) == 27
    project.assert_no_changes()
    assert writes(oncall) == []
    assert everything(oncall) == before  # ids, links, every field

    again = export(emulator, tmp_path / "again.py")
    assert again == text

    only_platform = export(emulator, tmp_path / "platform.py", "--team-id", TEAM_PLATFORM)
    assert only_platform.count("Integration(\n") == 7
    by_name = export(emulator, tmp_path / "named.py", "--name-regex", "^Service 0")
    assert by_name.count("Integration(\n") == 8
