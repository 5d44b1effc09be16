"""Reading Terraform states and pulumi-grafana stack exports, and the one line that a
state we cannot read gives (before any call to OnCall)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from emulator_seed import TEAM_PLATFORM, TOKEN
from migration_states import (
    GRAFANA,
    pulumi_export,
    pulumi_resource,
    tf_integration,
    tf_resource,
    tf_route,
    tf_state,
    urn,
)

from pulumi_oncall import _migrating as migrating
from pulumi_oncall.cli import main

INTEGRATION = "grafana:onCall/integration:Integration"


def test_terraform_addresses_ids_and_names_of_root_module_count_and_for_each() -> None:
    state = tf_state(
        [
            tf_resource("grafana_oncall_integration", "main", [tf_integration("CMAIN1", "m")]),
            tf_resource(
                "grafana_oncall_integration",
                "each",
                [tf_integration("CEACH1", "e", "eu-west"), tf_integration("CEACH2", "e", 'a"b')],
                module='module.team["db"].module.inner[1]',
            ),
            tf_resource(
                "grafana_oncall_route",
                "r",
                [tf_route("RR0", "CMAIN1", 0, "x", 0), tf_route("RR1", "CMAIN1", 7, "y", 1)],
            ),
            tf_resource(
                "grafana_oncall_route",
                "r",
                [{**tf_route("RDEPOSED", "CMAIN1", 0, "x"), "deposed": "00000001"}],
                module="module.old",
            ),
            tf_resource("grafana_oncall_integration", "looked_up", [], mode="data"),
            tf_resource("random_id", "x", [{"attributes": {"id": "1"}}], provider="x"),
        ]
    )
    old = migrating.read_terraform(json.dumps(state), "s.json")
    assert [(m.address, m.id, m.name) for m in old.integrations] == [
        ("grafana_oncall_integration.main", "CMAIN1", "main"),
        (
            'module.team["db"].module.inner[1].grafana_oncall_integration.each["eu-west"]',
            "CEACH1",
            "team-db-inner-1-each-eu-west",
        ),
        (
            'module.team["db"].module.inner[1].grafana_oncall_integration.each["a\\"b"]',
            "CEACH2",
            'team-db-inner-1-each-a"b',
        ),
    ]
    assert [(m.address, m.name, m.integration_id) for m in old.routes] == [
        ("grafana_oncall_route.r[0]", "r[0]", "CMAIN1"),
        ("grafana_oncall_route.r[1]", "r[1]", "CMAIN1"),
    ]
    assert old.ignored == {"data.grafana_oncall_integration": 1, "random_id": 1}


def test_pulumi_urns_names_stack_and_both_tokens() -> None:
    team = "acme:index:Team"
    export = pulumi_export(
        [
            pulumi_resource(INTEGRATION, "web", "CWEB1", {"name": "Web"}),
            pulumi_resource(
                "grafana:index/oncallIntegration:OncallIntegration",
                "old",
                "COLD1",
                {},
                parent_type=team,
            ),
            pulumi_resource("grafana:onCall/route:Route", "r", "RR1", {"integrationId": "CWEB1"}),
            {**pulumi_resource(INTEGRATION, "read", "CREAD1", {}), "external": True},
            {**pulumi_resource(INTEGRATION, "going", "CGOING1", {}), "delete": True},
            pulumi_resource("aws:sns/topic:Topic", "t", "arn", {}),
        ]
    )
    old = migrating.read_pulumi(json.dumps(export), "e.json")
    assert [(m.address, m.name) for m in old.integrations] == [
        (urn(INTEGRATION, "web"), "web"),
        (urn("grafana:index/oncallIntegration:OncallIntegration", "old", team), "old"),
    ]
    assert [(m.id, m.integration_id) for m in old.routes] == [("RR1", "CWEB1")]
    assert old.stack == "prod"
    # Read and pending-delete resources are not the stack's; the stack and providers not counted.
    assert old.ignored == {INTEGRATION: 2, "aws:sns/topic:Topic": 1}


def test_matching_keeps_what_the_server_has_and_reports_the_rest() -> None:
    state = tf_state(
        [
            tf_resource(
                "grafana_oncall_integration",
                "i",
                [
                    tf_integration("CKEEP1", "k", "keep"),
                    tf_integration("CGONE1", "g", "gone"),
                    tf_integration("not an id", "x", "bad"),
                    tf_integration("CTEAM1", "t", "other-team"),
                ],
            ),
            tf_resource(
                "grafana_oncall_route",
                "r",
                [
                    tf_route("RKEEP1", "CKEEP1", 3, "a", "a"),
                    tf_route("RLAST1", "CKEEP1", 0, "b", "default"),
                    tf_route("RSTRAY", "CKEEP1", 0, "c", "stray"),
                    tf_route("RGONE1", "CKEEP1", 0, "c", "gone"),
                ],
            ),
        ]
    )
    old = migrating.read_terraform(json.dumps(state), "s")
    integrations = [{"id": "CKEEP1", "team_id": None}, {"id": "CTEAM1", "team_id": "T1"}]
    routes = [
        {"id": "RKEEP1", "integration_id": "CKEEP1"},
        {"id": "RLAST1", "integration_id": "CKEEP1", "is_the_last_route": True},
        # The state is stale: the server says this route is another integration's.
        {"id": "RSTRAY", "integration_id": "CTEAM1"},
    ]
    migration = migrating.match(old, integrations, routes, lambda i: i.get("team_id") is None)
    assert set(migration.integrations) == {"CKEEP1"}
    assert set(migration.routes) == {"RKEEP1", "RLAST1"} and migration.default_routes == {"RLAST1"}
    assert migrating.route_names(migration) == {"RKEEP1": 'r["a"]'}
    assert [why for _, why in migration.left] == [
        "the server has no integration CGONE1",
        "its id 'not an id' is not an OnCall id",
        "CTEAM1: not chosen; left with Terraform",
        "route RSTRAY belongs to integration CTEAM1, which is not migrated; left with Terraform",
        "the server has no route RGONE1",
    ]
    assert migration.handed_over() == [
        'grafana_oncall_route.r["a"]',
        'grafana_oncall_route.r["default"]',
        'grafana_oncall_integration.i["keep"]',
    ]
    migration.drop("CKEEP1", "cannot adopt it")
    assert migration.handed_over() == [] and len(migration.left) == 8


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("x", "x"),
        ("", '""'),
        ('say "hi" \\ ${a} %{b} $c', '"say \\"hi\\" \\\\ $${a} %%{b} $c"'),
        ("a\nb\rc\td", '"a\\nb\\rc\\td"'),
        ("\x00\x1b\u202e\U000e0001", '"\\u0000\\u001b\\u202e\\U000e0001"'),
        ("é😀", '"é😀"'),
    ],
)
def test_string_keys_are_quoted_as_terraform_writes_them(text: str, expected: str) -> None:
    assert migrating.hcl_quoted(text) == (expected if expected.startswith('"') else f'"{text}"')


def aws_only() -> dict[str, Any]:
    aws = 'provider["registry.terraform.io/hashicorp/aws"]'
    return tf_state([tf_resource("aws_sns_topic", "t", [{"attributes": {}}], provider=aws)] * 3)


BAD_STATES: dict[str, tuple[str, Any, str]] = {
    "not json": ("terraform", "{ version = 4 }", "found text that is not JSON"),
    "empty file": ("terraform", "", "found an empty file"),
    "a list": ("pulumi", "[1, 2]", "found JSON a list, not a Pulumi stack export"),
    "other json": ("terraform", {"name": "x"}, "found JSON that is not a Terraform state"),
    "old terraform": (
        "terraform",
        {"version": 3, "lineage": "x", "modules": []},
        "found Terraform state version 3; only version 4 is read",
    ),
    "newer terraform": ("terraform", {**tf_state([]), "version": 5}, "state version 5"),
    "old pulumi": (
        "pulumi",
        {"version": 2, "deployment": {}},
        "found a Pulumi stack export of version 2; only version 3",
    ),
    "empty terraform": ("terraform", tf_state([]), "found an empty state (no resources)"),
    "empty pulumi": ("pulumi", pulumi_export([]), "found an empty state (no resources)"),
    "swapped": ("terraform", pulumi_export([]), "found a Pulumi stack export, not a Terraform"),
    "swapped back": ("pulumi", tf_state([]), "found a Terraform state, not a Pulumi stack export"),
    "other types only": (
        "terraform",
        aws_only(),
        "found 3 resources, none a grafana_oncall_integration or grafana_oncall_route "
        "(aws_sns_topic x3)",
    ),
    "other provider": (
        "terraform",
        tf_state(
            [
                tf_resource(
                    "grafana_oncall_integration",
                    "x",
                    [],
                    provider='provider["registry.terraform.io/acme/grafana"]',
                )
            ]
        ),
        'resources[0]: found grafana_oncall_integration of provider provider["registry.'
        'terraform.io/acme/grafana"]; only the grafana provider',
    ),
    "resources not a list": ("terraform", {**tf_state([]), "resources": {}}, "not a list"),
}


def in_process(*args: str) -> str:
    """The line `export` exits with, run in this process (as `python -m` would)."""
    with pytest.raises(SystemExit) as exited:
        main(["export", "--url", "http://127.0.0.1:9", *args])
    assert isinstance(exited.value.code, str)
    return exited.value.code


@pytest.mark.parametrize("label", list(BAD_STATES))
def test_a_state_that_cannot_be_read_fails_with_one_line(label: str, tmp_path: Path) -> None:
    tool, content, expected = BAD_STATES[label]
    path = tmp_path / "state.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    line = in_process(f"--from-{tool}", str(path))
    assert "\n" not in line and line.startswith(f"export: {path}: ") and expected in line, line


def test_unreadable_files(tmp_path: Path) -> None:
    binary = tmp_path / "state.bin"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\xff")
    for args, expected in [
        (["--from-terraform", str(tmp_path / "missing.json")], "cannot read"),
        (["--from-pulumi", str(tmp_path)], "cannot read"),
        (["--from-terraform", str(binary)], "found a file that is not text (UTF-8)"),
        (["--handover", str(tmp_path / "h.sh")], "--handover needs --from-terraform"),
    ]:
        line = in_process(*args)
        assert "\n" not in line and expected in line, line
    assert not (tmp_path / "h.sh").exists()


def test_the_command_line_says_one_line_for_a_wrong_file_version_or_empty_state(
    tmp_path: Path,
) -> None:
    wrong_file, wrong_version = tmp_path / "notes.txt", tmp_path / "old.tfstate"
    wrong_file.write_text("terraform {\n}\n")
    wrong_version.write_text(json.dumps({"version": 3, "lineage": "x", "modules": []}))
    env = {**os.environ, "GRAFANA_ONCALL_ACCESS_TOKEN": TOKEN}
    # Nothing listens there: a state that cannot be read fails before any call.
    command = [sys.executable, "-m", "pulumi_oncall", "export", "--url", "http://127.0.0.1:9"]
    runs = [
        (["--from-terraform", str(wrong_file)], None, "found text that is not JSON"),
        (["--from-terraform", str(wrong_version)], None, "found Terraform state version 3;"),
        (["--from-terraform", "-"], json.dumps(tf_state([])), "standard input: found an empty"),
    ]
    for args, stdin, expected in runs:
        done = subprocess.run(
            [*command, *args], env=env, input=stdin, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 1 and done.stdout == ""
        [line] = done.stderr.splitlines()
        assert line.startswith("export: ") and expected in line, line


def test_addresses_that_terraform_never_writes_are_refused() -> None:
    state = tf_state(
        [
            tf_resource("grafana_oncall_integration", "ok", [tf_integration("COK1", "o")]),
            tf_resource(
                "grafana_oncall_integration", "x", [tf_integration("C1", "x")], module="module.a\n"
            ),
            tf_resource("grafana_oncall_integration", "bad name", [tf_integration("C2", "x")]),
            tf_resource("grafana_oncall_integration", "k", [tf_integration("C3", "x", True)]),
            {**tf_resource("grafana_oncall_route", "r", []), "provider": GRAFANA + ".oncall"},
        ]
    )
    old = migrating.read_terraform(json.dumps(state), "s")
    assert [m.id for m in old.integrations] == ["COK1"]
    assert [why for _, why in old.refused] == [
        "its module address is not one Terraform writes",
        "its name is not one Terraform writes",
        "its index_key is true/false",
    ]
    assert old.refused[0][0] == "'module.a\\n'"


def test_the_program_is_the_same_whatever_the_order_of_state_and_server() -> None:
    resources = [
        tf_resource(
            "grafana_oncall_integration",
            "i",
            [tf_integration(f"CI{n}", "x", f"k{n}") for n in range(4)],
        ),
        tf_resource(
            "grafana_oncall_route",
            "r",
            [tf_route(f"RR{n}", f"CI{n % 2}", 0, "x", n) for n in range(4)],
        ),
    ]
    integrations = [{"id": f"CI{n}", "type": "webhook", "name": f"same {n % 2}"} for n in range(4)]
    routes = {
        f"CI{i}": [
            {"id": f"RR{n}", "integration_id": f"CI{i}", "position": p, "routing_regex": f"r{n}"}
            for p, n in enumerate(range(i, 4, 2))
        ]
        for i in range(2)
    }

    def text(reverse: bool) -> str:
        flipped = [{**r, "instances": r["instances"][::-1]} for r in resources[::-1]]
        state = tf_state(flipped if reverse else resources)
        old = migrating.read_terraform(json.dumps(state), "s")
        listed = integrations[::-1] if reverse else integrations
        program, migration = migrating.exported(
            old, listed, routes, teams={}, chains={}, connection="c"
        )
        return program + migrating.handover(migration, "p")

    assert text(False) == text(True)
    assert text(False).index('"k0"') < text(False).index('"k1"')


def test_team_and_name_filters_narrow_what_migrates_and_is_handed_over(
    oncall: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    platform = oncall.create({"type": "webhook", "name": "prod-a", "team_id": TEAM_PLATFORM})["id"]
    other = oncall.create({"type": "webhook", "name": "prod-b"})["id"]
    named = oncall.create({"type": "webhook", "name": "staging", "team_id": TEAM_PLATFORM})["id"]
    ids = {"platform": platform, "other": other, "named": named}
    state = tf_state(
        [
            tf_resource(
                "grafana_oncall_integration",
                "i",
                [tf_integration(id_, "x", key) for key, id_ in ids.items()],
            )
        ]
    )
    path = tmp_path / "state.json"
    path.write_text(json.dumps(state))
    monkeypatch.setenv("GRAFANA_ONCALL_ACCESS_TOKEN", TOKEN)
    argv = [
        "export",
        "--url",
        oncall.url,
        "--from-terraform",
        str(path),
        "-o",
        str(tmp_path / "p.py"),
    ]
    argv += ["--handover", str(tmp_path / "h.sh"), "--team-id", TEAM_PLATFORM]
    assert main([*argv, "--name-regex", "^prod-", "--connection", "eu"]) == 0
    program = (tmp_path / "p.py").read_text()
    assert f'import_id="{platform}"' in program and 'connection="eu"' in program
    assert program.count("Integration(\n") == 1
    handover = (tmp_path / "h.sh").read_text()
    assert [line for line in handover.splitlines() if line.startswith("terraform")] == [
        """terraform state rm 'grafana_oncall_integration.i["platform"]'"""
    ]
    err = capsys.readouterr().err
    assert handover in err and TOKEN not in err
    assert f'grafana_oncall_integration.i["other"]: {other}: not chosen' in err
    assert f'grafana_oncall_integration.i["named"]: {named}: not chosen' in err
