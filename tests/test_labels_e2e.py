"""Label sets through the real CLI: an empty set on the open-source engine, and the
`service_name` label that Grafana Cloud adds to grafana_alerting integrations."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from e2e_support import OnCall, Project
from emulator_seed import CLOUD_API_KEY

from pulumi_oncall.emulator import EmulatorProcess

SERVICE_NAME = "{{ payload.commonLabels.service_name }}"


def dynamic_labels(cloud: EmulatorProcess, name: str) -> dict[str, str]:
    rows = cloud.admin("GET", "integrations")["integrations"]
    (row,) = [r for r in rows if r["name"] == name and not r.get("deleted")]
    return {i["key"]["name"]: i["value"]["name"] for i in row["dynamic_labels"]}


def writes(requests: list[dict[str, Any]]) -> list[str]:
    return [r["method"] for r in requests if r["method"] not in ("GET", "HEAD")]


def test_an_empty_label_set_added_on_open_source_deploys_and_settles(
    project: Project, oncall: OnCall
) -> None:
    project.spec({"plain": {"type": "webhook"}})
    project.up()
    project.spec({"plain": {"type": "webhook", "labels": {}, "dynamic_labels": {}}})
    project.up()
    project.assert_no_changes()
    project.spec({"plain": {"type": "webhook"}})
    project.up()
    project.assert_no_changes()
    assert list(oncall.live()) == ["plain"]


@pytest.mark.parametrize("mode", ["now", "later"])
def test_cloud_service_name_label_is_clouds_and_settles(
    tmp_path: Path, cloud: EmulatorProcess, mode: str
) -> None:
    before = cloud.admin("GET", "settings")
    cloud.admin(
        "PUT",
        "settings",
        {"service_name_label": mode, "service_name_label_delay": 1, "grafana_reachable": True},
    )
    try:
        settles(tmp_path, cloud, mode)
    finally:
        cloud.admin("PUT", "settings", before)


def settles(tmp_path: Path, cloud: EmulatorProcess, mode: str) -> None:
    project = Project(tmp_path, cloud.url, token=CLOUD_API_KEY)
    project.spec(
        {
            "declared": {
                "type": "grafana_alerting",
                "dynamic_labels": {"sev": "{{ payload.sev }}"},
            },
            "undeclared": {"type": "grafana_alerting"},
        }
    )
    project.up()
    if mode == "later":
        time.sleep(1.5)  # the emulator adds the late label on the first request after this
        project.run("refresh", "--yes")
    assert dynamic_labels(cloud, "declared") == {
        "service_name": SERVICE_NAME,
        "sev": "{{ payload.sev }}",
    }
    assert dynamic_labels(cloud, "undeclared") == {"service_name": SERVICE_NAME}
    project.assert_no_changes()

    # A change of the declared set keeps Cloud's label; so does removing the set.
    project.spec(
        {
            "declared": {
                "type": "grafana_alerting",
                "dynamic_labels": {"sev": "{{ payload.level }}"},
            },
            "undeclared": {"type": "grafana_alerting"},
        }
    )
    project.up()
    assert dynamic_labels(cloud, "declared") == {
        "service_name": SERVICE_NAME,
        "sev": "{{ payload.level }}",
    }
    project.assert_no_changes()
    project.spec(
        {"declared": {"type": "grafana_alerting"}, "undeclared": {"type": "grafana_alerting"}}
    )
    project.up()
    assert dynamic_labels(cloud, "declared") == {"service_name": SERVICE_NAME}
    project.assert_no_changes()

    # Declared, it is the user's like any other label.
    project.spec(
        {
            "declared": {
                "type": "grafana_alerting",
                "dynamic_labels": {"service_name": "{{ 'x' }}"},
            },
            "undeclared": {"type": "grafana_alerting"},
        }
    )
    project.up()
    assert dynamic_labels(cloud, "declared") == {"service_name": "{{ 'x' }}"}
    project.assert_no_changes()
