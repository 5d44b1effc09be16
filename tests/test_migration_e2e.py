"""Switching from Terraform or pulumi-grafana: `export --from-terraform/--from-pulumi` over
integrations and routes made on the emulator, deployed through the real CLI with zero
writes, and the hand-over run for real where the tool is at hand (Pulumi)."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
from e2e_support import OnCall, Project
from emulator_seed import CHAIN_URGENT, TOKEN
from migration_states import (
    AWS,
    PROJECT,
    STACK,
    pulumi_component,
    pulumi_export,
    pulumi_resource,
    tf_integration,
    tf_resource,
    tf_route,
    tf_state,
    urn,
)
from pulumi_env import run_pulumi
from test_export_safety import checked
from test_routes_e2e import server_routes

INTEGRATION = "grafana:onCall/integration:Integration"
ROUTE = "grafana:onCall/route:Route"


def migrate(emulator: Any, tool: str, state: Any, tmp_path: Path) -> tuple[str, str, str]:
    """Run the export from a state file: the program, the hand-over file, stderr."""
    state_file = tmp_path / f"{tool}.json"
    state_file.write_text(json.dumps(state, indent=2), encoding="utf-8")
    source = tmp_path / f"{tool}-source"
    source.mkdir()
    env = {**os.environ, "GRAFANA_ONCALL_ACCESS_TOKEN": TOKEN}
    env.pop("GRAFANA_ONCALL_URL", None)
    args = [sys.executable, "-m", "pulumi_oncall", "export", "--url", emulator.url]
    args += [f"--from-{tool}", str(state_file), "-o", str(source / "__main__.py")]
    args += ["--handover", str(tmp_path / f"{tool}-handover.sh")]
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 0, done.stderr
    assert TOKEN not in done.stdout + done.stderr
    handover = (tmp_path / f"{tool}-handover.sh").read_text(encoding="utf-8")
    assert handover in done.stderr  # printed as well as written
    return (source / "__main__.py").read_text(encoding="utf-8"), handover, done.stderr


def add_route(oncall: OnCall, integration_id: str, body: dict[str, Any]) -> str:
    response = httpx.post(
        f"{oncall.url}/api/v1/routes/",
        headers={"Authorization": TOKEN},
        json={"integration_id": integration_id, "escalation_chain_id": None, **body},
    )
    response.raise_for_status()
    return str(response.json()["id"])


def default_route_id(oncall: OnCall, integration_id: str) -> str:
    response = httpx.get(
        f"{oncall.url}/api/v1/routes/",
        params={"integration_id": integration_id},
        headers={"Authorization": TOKEN},
    )
    [last] = [r for r in response.json()["results"] if r["is_the_last_route"]]
    return str(last["id"])


def commands(handover: str) -> list[list[str]]:
    return [
        shlex.split(line) for line in handover.splitlines() if not line.startswith(("#", "set "))
    ]


def deploy_unchanged(
    tmp_path: Path, emulator: Any, oncall: OnCall, source: Path, name: str
) -> Project:
    before = httpx.get(
        f"{oncall.url}/api/v1/integrations/", headers={"Authorization": TOKEN}
    ).json()["results"]
    project = Project(tmp_path, emulator.url, source=source, name=name)
    oncall.clear_requests()
    project.up()
    assert [r for r in oncall.api_requests() if r["method"] != "GET"] == []
    project.assert_no_changes()
    after = httpx.get(
        f"{oncall.url}/api/v1/integrations/", headers={"Authorization": TOKEN}
    ).json()["results"]
    assert after == before  # ids and links included
    return project


def state_routes(project: Project) -> dict[str, list[Any]]:
    return {
        r["outputs"]["name"]: [route.get("name") for route in r["outputs"].get("routes") or []]
        for r in project.integrations_in_state()
    }


def test_terraform_state_migrates_with_zero_writes_and_hands_over_exactly(
    tmp_path: Path, emulator: Any, oncall: OnCall
) -> None:
    eu = oncall.create({"type": "webhook", "name": "Payments EU"})["id"]
    us = oncall.create({"type": "webhook", "name": "Payments US"})["id"]
    db = oncall.create({"type": "alertmanager", "name": "Database"})["id"]
    unmanaged = oncall.create({"type": "webhook", "name": "Not in the state"})["id"]
    critical = add_route(
        oncall, eu, {"routing_regex": "critical", "escalation_chain_id": CHAIN_URGENT}
    )
    by_hand = add_route(oncall, eu, {"routing_regex": "made in the UI"})
    it_s = add_route(oncall, eu, {"routing_regex": "it's"})
    db_route = add_route(oncall, db, {"routing_regex": "{{ true }}", "routing_type": "jinja2"})
    orphan = add_route(oncall, unmanaged, {"routing_regex": "orphan"})
    before = {i: server_routes(oncall, i) for i in (eu, us, db)}

    payments = [tf_integration(us, "Payments US", "us"), tf_integration(eu, "Payments EU", "eu")]
    state = tf_state(
        [
            tf_resource("grafana_oncall_integration", "payments", payments),
            tf_resource(
                "grafana_oncall_integration", "gone", [tf_integration("CGONE1234", "Gone")]
            ),
            # Positions with gaps, listed out of order: the server's order wins.
            tf_resource(
                "grafana_oncall_route",
                "payments",
                [
                    tf_route(it_s, eu, 20, "it's", "it's $x"),
                    tf_route(critical, eu, 0, "critical", "eu critical"),
                    tf_route("RGONE1234", eu, 30, "stale", "stale"),
                ],
            ),
            tf_resource(
                "grafana_oncall_route",
                "payments_default",
                [tf_route(default_route_id(oncall, us), us, 0, "x")],
            ),
            tf_resource(
                "grafana_oncall_route", "orphan", [tf_route(orphan, unmanaged, 0, "orphan")]
            ),
            tf_resource(
                "grafana_oncall_integration",
                "alerts",
                [tf_integration(db, "Database", 0)],
                module='module.team["db"]',
            ),
            tf_resource(
                "grafana_oncall_route",
                "alerts",
                [tf_route(db_route, db, 0, "{{ true }}", 0)],
                module='module.team["db"]',
            ),
            tf_resource(
                "grafana_oncall_escalation_chain", "default", [{"attributes": {"id": "F1"}}]
            ),
            tf_resource("grafana_oncall_team", "platform", [], mode="data"),
            tf_resource("aws_sns_topic", "alerts", [{"attributes": {"id": "arn"}}], provider=AWS),
        ]
    )
    text, handover, stderr = migrate(emulator, "terraform", state, tmp_path)
    calls, comments = checked(text, tmp_path)

    assert [(name, kwargs["import_id"]) for name, kwargs in calls] == [
        ("payments-eu", eu),
        ("payments-us", us),
        ("team-db-alerts-0", db),
    ]
    routes = {kwargs["import_id"]: kwargs.get("routes") for _, kwargs in calls}
    assert routes[eu] == [
        {
            "name": 'payments["eu critical"]',
            "routing_regex": "critical",
            "escalation_chain_id": CHAIN_URGENT,
        },
        {"routing_regex": "made in the UI"},
        {"name": 'payments["it\'s $x"]', "routing_regex": "it's"},
    ]
    assert routes[us] is None
    assert routes[db] == [
        {"name": "alerts[0]", "routing_type": "jinja2", "routing_regex": "{{ true }}"}
    ]
    assert '# Terraform: module.team["db"].grafana_oncall_integration.alerts[0]' in comments
    assert any("1 of its routes are not in the Terraform state" in c for c in comments)
    assert any("grafana_oncall_route.payments_default (its default route" in c for c in comments)
    not_migrated = [c for c in comments if c.startswith("# Not migrated")]
    assert len(not_migrated) == 3
    assert any(
        "grafana_oncall_integration.gone: the server has no integration CGONE1234" in c
        for c in not_migrated
    )
    assert any('payments["stale"]: the server has no route RGONE1234' in c for c in not_migrated)
    assert any(
        f"grafana_oncall_route.orphan: route {orphan} belongs to integration {unmanaged}" in c
        for c in not_migrated
    )
    assert any(
        "Ignored: 3 resources of other types in the state (aws_sns_topic x1, "
        "data.grafana_oncall_team x1, grafana_oncall_escalation_chain x1)" in c
        for c in comments
    )
    assert "migrating 3 integrations and 4 routes; 7 resources to hand over" in stderr

    assert commands(handover) == [
        ["terraform", "state", "rm", address]
        for address in [
            'grafana_oncall_route.payments["eu critical"]',
            'grafana_oncall_route.payments["it\'s $x"]',
            "grafana_oncall_route.payments_default",
            'module.team["db"].grafana_oncall_route.alerts[0]',
            'grafana_oncall_integration.payments["eu"]',
            'grafana_oncall_integration.payments["us"]',
            'module.team["db"].grafana_oncall_integration.alerts[0]',
        ]
    ]

    source = tmp_path / "terraform-source"
    project = deploy_unchanged(tmp_path, emulator, oncall, source, "from-terraform")
    assert state_routes(project) == {
        "Payments EU": ['payments["eu critical"]', None, 'payments["it\'s $x"]'],
        "Payments US": [],
        "Database": ["alerts[0]"],
    }
    assert {i: server_routes(oncall, i) for i in (eu, us, db)} == before
    assert by_hand in {r["id"] for r in before[eu]}


def test_pulumi_grafana_stack_migrates_and_its_handover_runs_on_the_real_cli(
    tmp_path: Path, emulator: Any, oncall: OnCall
) -> None:
    web = oncall.create({"type": "webhook", "name": "Web"})["id"]
    db = oncall.create({"type": "alertmanager", "name": "Database"})["id"]
    first = add_route(oncall, web, {"routing_regex": "first"})
    second = add_route(oncall, web, {"routing_regex": "second"})
    db_route = add_route(oncall, db, {"routing_regex": "db"})

    web_urn = urn(INTEGRATION, "web")
    team = "acme:index:Team"
    db_urn = urn(INTEGRATION, "db-alerts", team)
    resources = [
        pulumi_resource(INTEGRATION, "web", web, {"name": "Web", "type": "webhook"}),
        pulumi_resource(
            ROUTE,
            "web-second",
            second,
            {"integrationId": web, "position": 9, "routingRegex": "second"},
            dependencies=[web_urn],
        ),
        pulumi_resource(
            ROUTE,
            "web-first",
            first,
            {"integrationId": web, "position": 0, "routingRegex": "first"},
            dependencies=[web_urn],
        ),
        pulumi_component(team, "db"),
        pulumi_resource(
            INTEGRATION,
            "db-alerts",
            db,
            {"name": "Database", "type": "alertmanager"},
            parent=urn(team, "db"),
            parent_type=team,
        ),
        # A route under the token of pulumi-grafana before 1.0.
        pulumi_resource(
            "grafana:index/oncallRoute:OncallRoute",
            "db-route",
            db_route,
            {"integrationId": db, "position": 0, "routingRegex": "db"},
            parent=urn(team, "db"),
            parent_type=team,
            dependencies=[db_urn],
        ),
        pulumi_resource(INTEGRATION, "gone", "CGONE1234", {"name": "Gone", "type": "webhook"}),
        pulumi_resource(
            "grafana:onCall/escalationChain:EscalationChain", "chain", "FCHAIN1", {"name": "c"}
        ),
    ]
    export = pulumi_export(resources)
    text, handover, _ = migrate(emulator, "pulumi", export, tmp_path)
    calls, comments = checked(text, tmp_path)
    assert [(name, kwargs["import_id"]) for name, kwargs in calls] == [
        ("db-alerts", db),
        ("web", web),
    ]
    routes = {kwargs["import_id"]: kwargs.get("routes") for _, kwargs in calls}
    assert routes[web] == [
        {"name": "web-first", "routing_regex": "first"},
        {"name": "web-second", "routing_regex": "second"},
    ]
    assert routes[db] == [{"name": "db-route", "routing_regex": "db"}]
    assert any("gone: the server has no integration CGONE1234" in c for c in comments)
    migrated = [
        urn(ROUTE, "web-first"),
        urn(ROUTE, "web-second"),
        urn("grafana:index/oncallRoute:OncallRoute", "db-route", team),
        db_urn,
        web_urn,
    ]
    assert commands(handover) == [
        ["pulumi", "state", "delete", "--stack", STACK, "--yes", u]
        for u in sorted(migrated[:3]) + sorted(migrated[3:])
    ]

    project = deploy_unchanged(
        tmp_path, emulator, oncall, tmp_path / "pulumi-source", "from-pulumi"
    )
    assert state_routes(project) == {"Web": ["web-first", "web-second"], "Database": ["db-route"]}

    # The old stack, imported as is; its hand-over leaves exactly the rest.
    old = tmp_path / "old"
    old.mkdir()
    (old / "Pulumi.yaml").write_text(f"name: {PROJECT}\nruntime: python\n")
    (tmp_path / "old.json").write_text(json.dumps(export))
    run_pulumi(["stack", "init", STACK], old, project.env)
    run_pulumi(["stack", "import", "--file", str(tmp_path / "old.json")], old, project.env)
    script = subprocess.run(
        ["sh", str(tmp_path / "pulumi-handover.sh")],
        cwd=old,
        env=project.env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert script.returncode == 0, script.stdout + script.stderr
    left = json.loads(run_pulumi(["stack", "export"], old, project.env).stdout)
    remaining = {r["urn"] for r in left["deployment"]["resources"]}
    assert remaining == {r["urn"] for r in export["deployment"]["resources"]} - set(migrated)
