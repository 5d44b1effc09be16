"""End to end: the real Pulumi CLI and engine drive the provider against the emulator.

Every effect is checked through the OnCall API, not only through Pulumi's output.
"""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from e2e_support import REPO, RESOURCE_TYPE, OnCall, Project
from emulator_seed import (
    CHAIN_DEFAULT,
    CHAIN_URGENT,
    EMULATOR_ARGS,
    SEED,
    TEAM_DATABASE,
    TEAM_PLATFORM,
)
from pulumi_env import pulumi_env, run_pulumi

from pulumi_oncall.emulator import EmulatorProcess

EVERY_FIELD: dict[str, Any] = {
    "am": {
        "type": "alertmanager",
        "name": "Alertmanager prod",
        "team_id": TEAM_PLATFORM,
        "description_short": "Prometheus of the prod cluster",
        "default_route": {
            "escalation_chain_id": CHAIN_DEFAULT,
            "slack": {"channel_id": "CALERTS", "enabled": True},
            "telegram": {"id": "TGCHAT", "enabled": False},
            "mobile_app": {"id": "MOBILE", "enabled": True},
            "mobile_app_critical": {"id": "MOBILECRIT", "enabled": False},
            "email": {"id": "EMAIL", "enabled": True},
            "webhook": {"id": "WEBHOOK", "enabled": True},
        },
        "templates": {
            "grouping_key": "{{ payload.groupKey }}",
            "resolve_signal": '{{ payload.status == "resolved" }}',
            "acknowledge_signal": "{{ payload.acked }}",
            "source_link": "{{ payload.externalURL }}",
            "slack": {
                "title": "{{ payload.title }}",
                "message": "{{ payload.msg }}",
                "image_url": "{{ payload.img }}",
            },
            "web": {"title": "t", "message": "{{ payload | tojson_pretty }}", "image_url": "i"},
            "sms": {"title": "sms {{ payload.title }}"},
            "phone_call": {"title": "call {{ payload.title }}"},
            "telegram": {"title": "t", "message": "m", "image_url": "i"},
            "mobile_app": {"title": "t", "message": "m"},
            "email": {"title": "t", "message": "m"},
            "webhook": {"title": "t", "message": "m", "image_url": "i"},
        },
    },
    "grafana": {"type": "grafana"},
}


def test_up_creates_every_field_and_a_second_preview_is_empty(
    project: Project, oncall: OnCall
) -> None:
    project.spec(EVERY_FIELD)
    project.up()
    live = oncall.live()
    assert set(live) == {"Alertmanager prod", "grafana"}
    am = oncall.get(live["Alertmanager prod"]["id"]).json()
    declared = EVERY_FIELD["am"]
    assert am["type"] == "alertmanager" and am["team_id"] == TEAM_PLATFORM
    assert am["description_short"] == declared["description_short"]
    for group, value in declared["templates"].items():
        if isinstance(value, dict):
            assert {k: am["templates"][group][k] for k in value} == value
        else:
            assert am["templates"][group] == value
    for backend, value in declared["default_route"].items():
        if isinstance(value, dict):
            assert {k: am["default_route"][backend][k] for k in value} == value
    assert am["default_route"]["escalation_chain_id"] == CHAIN_DEFAULT
    outputs = project.outputs()
    assert outputs["am.link"] == am["link"]
    assert outputs["am.id"] == am["id"]

    project.assert_no_changes()
    project.run("refresh", "--yes")
    project.assert_no_changes()


def test_changes_update_in_place_and_removed_template_is_reset(
    project: Project, oncall: OnCall
) -> None:
    project.spec(EVERY_FIELD)
    project.up()
    before = oncall.live()["Alertmanager prod"]["id"]

    changed = copy.deepcopy(EVERY_FIELD)
    am = changed["am"]
    am["name"] = "Alertmanager production"
    am["team_id"] = TEAM_DATABASE
    am["default_route"] = {"escalation_chain_id": CHAIN_URGENT, "slack": {"channel_id": "COTHER"}}
    am["templates"]["slack"] = {"title": "{{ payload.new_title }}"}
    del am["templates"]["resolve_signal"]
    project.spec(changed)
    project.up()

    after = oncall.get(before).json()  # same id: updated in place
    assert after["name"] == "Alertmanager production" and after["team_id"] == TEAM_DATABASE
    assert after["default_route"]["escalation_chain_id"] == CHAIN_URGENT
    assert after["default_route"]["slack"]["channel_id"] == "COTHER"
    assert after["default_route"]["telegram"]["id"] is None
    assert after["templates"]["slack"] == {
        "title": "{{ payload.new_title }}",
        "message": None,
        "image_url": None,
    }
    assert after["templates"]["resolve_signal"] is None
    assert set(oncall.live()) == {"Alertmanager production", "grafana"}
    project.assert_no_changes()


def test_type_change_replaces_deleting_first_when_the_name_is_kept(
    project: Project, oncall: OnCall
) -> None:
    project.spec({"src": {"type": "webhook", "name": "Source"}})
    project.up()
    old = oncall.live()["Source"]["id"]
    oncall.clear_requests()

    project.spec({"src": {"type": "formatted_webhook", "name": "Source"}})
    project.up()
    new = oncall.live()["Source"]
    assert new["id"] != old and new["type"] == "formatted_webhook"
    assert oncall.get(old).status_code == 404
    writes = [(r["method"], r["status"]) for r in oncall.api_requests() if r["method"] != "GET"]
    assert writes == [("DELETE", 204), ("POST", 201)]
    project.assert_no_changes()


def test_refresh_shows_drift_and_up_corrects_it(project: Project, oncall: OnCall) -> None:
    project.spec(
        {"w": {"type": "webhook", "name": "Drifty", "templates": {"web": {"title": "mine"}}}}
    )
    project.up()
    integration_id = oncall.live()["Drifty"]["id"]
    oncall.put(integration_id, {"templates": {"web": {"title": "edited in the UI"}}})

    refresh = project.run("refresh", "--yes", "--diff")
    assert "edited in the UI" in refresh.stdout
    preview = project.run("preview", "--expect-no-changes", check=False)
    assert preview.returncode != 0
    project.up()
    assert oncall.get(integration_id).json()["templates"]["web"]["title"] == "mine"
    project.assert_no_changes()


def test_refresh_drops_a_deleted_integration_and_up_recreates_it(
    project: Project, oncall: OnCall
) -> None:
    project.spec({"w": {"type": "webhook", "name": "Doomed"}})
    project.up()
    old = oncall.live()["Doomed"]["id"]
    oncall.delete(old)

    project.run("refresh", "--yes")
    assert project.integrations_in_state() == []
    project.up()
    new = oncall.live()["Doomed"]["id"]
    assert new != old
    assert [r["id"] for r in project.integrations_in_state()] == [new]


def test_destroy_leaves_nothing(project: Project, oncall: OnCall) -> None:
    project.spec(EVERY_FIELD)
    project.up()
    assert len(oncall.live()) == 2
    project.run("destroy", "--yes")
    assert oncall.live() == {}
    assert project.integrations_in_state() == []


def test_invalid_input_fails_at_preview_before_any_api_call(
    project: Project, oncall: OnCall
) -> None:
    project.spec(
        {
            "bad": {
                "type": "webhook",
                "name": "Bad",
                "templates": {"slak": {"title": "x"}, "web": {"title": "{{ x | nope }}"}},
            },
        }
    )
    oncall.clear_requests()
    preview = project.run("preview", check=False)
    text = preview.stdout + preview.stderr
    assert preview.returncode != 0
    assert "bad" in text and "templates.slak" in text and "templates.web.title" in text
    assert "No filter named 'nope'" in text
    assert "Traceback" not in text
    assert oncall.api_requests() == []


def test_cross_stack_link_stays_a_secret(tmp_path: Path, emulator: Any, oncall: OnCall) -> None:
    env = pulumi_env(tmp_path)
    examples = REPO / "examples" / "cross-stack"
    producer = Project(
        tmp_path, emulator.url, source=examples / "producer", name="oncall-producer", env=env
    )
    producer.up()
    link = oncall.live()["Shared Alertmanager"]["link"]
    assert producer.outputs()["alertmanager_link"] == link

    consumer = Project(
        tmp_path, emulator.url, source=examples / "consumer", name="oncall-consumer", env=env
    )
    consumer.run("config", "set", "producerStack", "organization/oncall-producer/dev")
    consumer.up()
    shown = json.loads(consumer.run("stack", "output", "--json").stdout)
    assert shown["webhook_url"] == "[secret]"
    assert consumer.outputs()["webhook_url"] == link
    assert link not in json.dumps(consumer.state())
    assert link not in json.dumps(producer.state())


def test_token_never_reaches_state_or_output_and_rotation_works(tmp_path: Path) -> None:
    old_token, new_token = "old-token-4f1c9a", "new-token-8d2e7b"
    db = tmp_path / "oncall.sqlite3"
    with EmulatorProcess(
        token=[old_token, new_token], db=db, seed=SEED, extra_args=EMULATOR_ARGS
    ) as emu:
        project = Project(tmp_path, emu.url, token=old_token)
        project.spec(EVERY_FIELD)
        project.up()
        project.assert_no_changes()
        state = json.dumps(project.state())
        assert "__provider" in state
        for text in (state, *project.output):
            assert old_token not in text
        # The engine keeps stack config as the default provider's inputs: encrypted.
        shown = json.loads(
            run_pulumi(["stack", "export", "--show-secrets"], project.dir, project.env).stdout
        )
        (default_provider,) = [
            r
            for r in shown["deployment"]["resources"]
            if r["type"] == "pulumi:providers:pulumi-python"
        ]
        assert old_token in json.dumps(default_provider["inputs"])
        serialized = [
            r["outputs"]["__provider"]
            for r in shown["deployment"]["resources"]
            if r["type"] == RESOURCE_TYPE
        ]
        assert len(serialized) == 2 and all(old_token not in s for s in serialized)

    # Revoke the old token: only the new one opens the same data.
    with EmulatorProcess(token=new_token, db=db, seed=SEED, extra_args=EMULATOR_ARGS) as emu:
        oncall = OnCall(emu.url, new_token)
        project.run("config", "set", "oncall:url", emu.url)
        project.run("config", "set", "--secret", "oncall:token", new_token)
        changed = copy.deepcopy(EVERY_FIELD)
        changed["grafana"]["description_short"] = "after rotation"
        project.spec(changed)
        project.up()
        assert oncall.live()["grafana"]["description_short"] == "after rotation"
        project.run("destroy", "--yes")
        assert oncall.live() == {}
        for text in project.output:
            assert old_token not in text and new_token not in text


def test_import_option_is_refused_by_the_dynamic_provider_host(
    project: Project, oncall: OnCall
) -> None:
    """Pulumi's dynamic provider host cannot import: its Read needs the serialised
    provider, which an import does not have yet. The engine fails cleanly and the
    integration is untouched; the `import_id` argument adopts it instead."""
    body = {"type": "webhook", "name": "Legacy", "templates": {"web": {"title": "kept"}}}
    existing = oncall.create(body)
    project.spec({"legacy": {**body, "import_option": existing["id"]}})
    failed = project.run("up", "--yes", "--skip-preview", check=False)
    assert failed.returncode != 0 and "KeyError: '__provider'" in failed.stdout
    assert project.integrations_in_state() == []
    assert oncall.get(existing["id"]).json()["templates"]["web"]["title"] == "kept"

    project.spec({"legacy": {**body, "import_id": existing["id"]}})
    project.up()
    assert [r["id"] for r in project.integrations_in_state()] == [existing["id"]]
    assert list(oncall.live()) == ["Legacy"]
    project.assert_no_changes()


SHIPPED = {
    "root": {
        "alertmanager-prod": CHAIN_DEFAULT,
        "Grafana alerts": None,
        "Deploy pipeline": CHAIN_DEFAULT,
    },
    "examples/basic": {"Alertmanager (basic example)": CHAIN_DEFAULT},
}


@pytest.mark.parametrize("program", SHIPPED)
def test_shipped_programs_deploy_and_settle(tmp_path: Path, emulator: Any, program: str) -> None:
    source = tmp_path / "source"
    source.mkdir()
    home = REPO / ("" if program == "root" else program)
    for path in [home / "__main__.py", *home.glob("*-samples.json")]:
        shutil.copy(path, source)
    project = Project(tmp_path, emulator.url, source=source, name="shipped")
    project.run("config", "set", "escalationChainId", CHAIN_DEFAULT)
    project.up()
    live = OnCall(emulator.url).live()
    chains = {name: i["default_route"]["escalation_chain_id"] for name, i in live.items()}
    assert chains == SHIPPED[program]
    project.assert_no_changes()
    project.run("destroy", "--yes")
    assert OnCall(emulator.url).live() == {}
