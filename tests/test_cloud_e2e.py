"""Grafana Cloud through the real CLI: a named connection with a service-account token
beside the default one, labels, permissions, and tokens kept out of the state."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from e2e_support import OnCall, Project
from emulator_seed import GRAFANA_STACK as STACK
from emulator_seed import SA_TOKEN as SA_OLD
from emulator_seed import SA_TOKEN_ROTATED as SA_NEW
from emulator_seed import SA_VIEWER, TOKEN

from pulumi_oncall.emulator import EmulatorProcess


def cloud_live(cloud: EmulatorProcess) -> dict[str, dict[str, Any]]:
    rows = cloud.admin("GET", "integrations")["integrations"]
    return {r["name"]: r for r in rows if not r.get("deleted")}


def labels_of(row: dict[str, Any], kind: str = "labels") -> dict[str, str]:
    return {item["key"]["name"]: item["value"]["name"] for item in row[kind]}


def with_cloud_connection(project: Project, url: str, token: str = SA_OLD) -> None:
    project.run("config", "set", "--path", "oncall:connections.cloud.url", url)
    project.run("config", "set", "--secret", "--path", "oncall:connections.cloud.token", token)
    project.run("config", "set", "--path", "oncall:connections.cloud.grafanaUrl", STACK)


SPEC: dict[str, Any] = {
    "onprem": {"type": "alertmanager", "name": "On prem"},
    "saas": {
        "type": "datadog",
        "name": "In the cloud",
        "connection": "cloud",
        "labels": {"env": "prod", "team": "db", "tier": "1"},
        "dynamic_labels": {"severity": "{{ payload.severity }}"},
    },
}


def test_one_program_two_oncalls_labels_and_rotation(
    tmp_path: Path, emulator: Any, cloud: EmulatorProcess
) -> None:
    oss = OnCall(emulator.url)
    project = Project(tmp_path, emulator.url)
    with_cloud_connection(project, cloud.url)
    project.spec(SPEC)
    project.up()
    assert list(oss.live()) == ["On prem"]
    saas = cloud_live(cloud)["In the cloud"]
    assert saas["type"] == "datadog"
    assert labels_of(saas) == SPEC["saas"]["labels"]
    assert labels_of(saas, "dynamic_labels") == SPEC["saas"]["dynamic_labels"]
    assert {r["user"] for r in cloud.admin("GET", "requests")["requests"]} == {"service-account-1"}
    project.assert_no_changes()

    reordered = copy.deepcopy(SPEC)
    reordered["saas"]["labels"] = {"tier": "1", "env": "prod", "team": "db"}
    project.spec(reordered)
    project.assert_no_changes()

    changed = copy.deepcopy(SPEC)
    changed["saas"]["labels"]["env"] = "staging"
    project.spec(changed)
    project.up()
    after = cloud_live(cloud)["In the cloud"]
    assert after["id"] == saas["id"]  # updated in place
    assert labels_of(after) == {"env": "staging", "team": "db", "tier": "1"}
    project.assert_no_changes()

    # Rotation is config alone: the next run uses the new token.
    project.run("config", "set", "--secret", "--path", "oncall:connections.cloud.token", SA_NEW)
    cloud.admin("DELETE", "requests")
    removed = copy.deepcopy(changed)
    del removed["saas"]["labels"]
    project.spec(removed)
    project.up()
    assert labels_of(cloud_live(cloud)["In the cloud"]) == {}
    assert labels_of(cloud_live(cloud)["In the cloud"], "dynamic_labels") == {
        "severity": "{{ payload.severity }}"
    }
    assert {r["user"] for r in cloud.admin("GET", "requests")["requests"]} == {"service-account-2"}
    project.assert_no_changes()

    state_files = [p for p in (tmp_path / "pulumi-state").rglob("*") if p.is_file()]
    at_rest = "".join(p.read_text(errors="replace") for p in state_files)
    outputs = "".join(project.output)
    for token in (TOKEN, SA_OLD, SA_NEW):
        assert token not in at_rest and token not in outputs
    saas_state = [
        r for r in project.integrations_in_state() if r["outputs"]["name"] == "In the cloud"
    ]
    assert saas_state[0]["inputs"]["connection"] == "cloud"

    project.run("destroy", "--yes")
    assert oss.live() == {} and cloud_live(cloud) == {}


def test_a_viewer_service_account_is_told_the_permission(
    tmp_path: Path, emulator: Any, cloud: EmulatorProcess
) -> None:
    project = Project(tmp_path, emulator.url)
    with_cloud_connection(project, cloud.url, token=SA_VIEWER)
    project.spec({"saas": SPEC["saas"]})
    failed = project.run("up", "--yes", "--skip-preview", check=False)
    assert failed.returncode != 0
    assert "grafana-oncall-app.integrations:write" in failed.stdout
    assert "grafana-irm-app.integrations:write" in failed.stdout
    assert SA_VIEWER not in failed.stdout + failed.stderr
    assert cloud_live(cloud) == {}


def test_labels_on_the_open_source_engine_fail_and_leave_nothing(
    tmp_path: Path, emulator: Any
) -> None:
    project = Project(tmp_path, emulator.url)
    project.spec({"x": {"type": "webhook", "name": "Labelled", "labels": {"env": "prod"}}})
    failed = project.run("up", "--yes", "--skip-preview", check=False)
    assert failed.returncode != 0
    assert "labels (labels exist only on Grafana Cloud)" in failed.stdout
    assert "nothing was created" in failed.stdout
    assert OnCall(emulator.url).live() == {}
    assert project.integrations_in_state() == []


def test_a_type_typo_fails_the_preview_with_a_suggestion_and_no_call(
    tmp_path: Path, emulator: Any, cloud: EmulatorProcess
) -> None:
    project = Project(tmp_path, emulator.url)
    with_cloud_connection(project, cloud.url)
    OnCall(emulator.url).clear_requests()
    cloud.admin("DELETE", "requests")
    for spec, typo, fix in (
        ({"type": "alertmanagr"}, "alertmanagr", "alertmanager"),
        ({"type": "pagerduti", "connection": "cloud"}, "pagerduti", "pagerduty"),
    ):
        project.spec({"a": spec})
        preview = project.run("preview", check=False)
        text = preview.stdout + preview.stderr
        assert preview.returncode != 0
        assert f"unknown type {typo!r}; did you mean {fix!r}?" in text
    assert OnCall(emulator.url).api_requests() == []
    assert cloud.admin("GET", "requests")["requests"] == []


def test_a_connection_missing_from_config_fails_before_any_call(
    tmp_path: Path, emulator: Any
) -> None:
    project = Project(tmp_path, emulator.url)
    project.spec({"x": {"type": "webhook", "connection": "staging"}})
    OnCall(emulator.url).clear_requests()
    preview = project.run("preview", check=False)
    assert preview.returncode != 0
    assert "connection 'staging' is not configured" in preview.stdout
    assert "pulumi config set --path oncall:connections.staging.url" in preview.stdout
    assert OnCall(emulator.url).api_requests() == []


def test_moving_an_integration_to_another_oncall_creates_there_first(
    tmp_path: Path, emulator: Any, cloud: EmulatorProcess
) -> None:
    project = Project(tmp_path, emulator.url)
    with_cloud_connection(project, cloud.url)
    project.spec({"x": {"type": "webhook", "name": "Mover"}})
    project.up()
    old = OnCall(emulator.url).live()["Mover"]["id"]
    project.spec({"x": {"type": "webhook", "name": "Mover", "connection": "cloud"}})
    up = project.up()
    assert OnCall(emulator.url).live() == {} and list(cloud_live(cloud)) == ["Mover"]
    assert "replaced" in up.stdout
    assert OnCall(emulator.url).get(old).status_code == 404
    state = json.dumps(project.state())
    assert '"connection": "cloud"' in state
    project.assert_no_changes()
