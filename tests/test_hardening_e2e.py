"""Careless and hostile input through the real CLI: adoption keeps what is not declared,
ids are ids, secrets stay out of messages, duplicates and lost values fail at preview.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from e2e_support import OnCall, Project
from emulator_seed import CLOUD_API_KEY

SECRET = "TOPSECRET-9f2c"


def program(tmp_path: Path, emulator: Any, text: str, **kwargs: Any) -> Project:
    """A project running `text` as its program."""
    source = tmp_path / "source"
    source.mkdir(exist_ok=True)
    (source / "__main__.py").write_text(
        "import pulumi\nfrom pulumi_oncall import Integration\n" + text
    )
    return Project(tmp_path, emulator.url, source=source, **kwargs)


def fails(project: Project, *expected: str, command: str = "preview") -> str:
    proc = project.run(command, *(["--yes"] if command != "preview" else []), check=False)
    text = proc.stdout + proc.stderr
    assert proc.returncode != 0, text
    for fragment in expected:
        assert fragment in text, f"{fragment!r} missing from:\n{text}"
    assert "Traceback" not in text, text
    return text


def test_import_id_without_name_keeps_the_name_and_preview_says_what_changes(
    project: Project, oncall: OnCall
) -> None:
    existing = oncall.create(
        {"type": "webhook", "name": "Made in the UI", "description_short": "old", "team_id": None}
    )
    project.spec(
        {"adopted": {"type": "webhook", "import_id": existing["id"], "description_short": "new"}}
    )
    preview = project.run("preview").stdout
    assert f"import_id {existing['id']!r} is the existing integration 'Made in the UI'" in preview
    assert "changes description_short on it" in preview
    assert "name" not in preview.split("changes", 1)[1].split("on it", 1)[0]
    project.up()
    after = oncall.get(existing["id"]).json()
    assert after["name"] == "Made in the UI"
    assert after["description_short"] == "new"
    assert after["link"] == existing["link"]
    project.assert_no_changes()
    # In sync: the preview has nothing to announce.
    assert "is the existing integration" not in project.run("preview").stdout


def test_get_of_a_missing_or_crafted_id_fails(
    tmp_path: Path, emulator: Any, oncall: OnCall
) -> None:
    project = program(tmp_path, emulator, 'Integration.get("gone", "CNOSUCH1")\n')
    fails(project, "no integration with id 'CNOSUCH1'", "get_integration(")

    other = oncall.create({"type": "webhook", "name": "other"})
    crafted = f"{other['id']}/../{other['id']}"
    (project.dir / "__main__.py").write_text(
        "import pulumi\nfrom pulumi_oncall import Integration\n"
        f"Integration.get('g', pulumi.Output.from_input({crafted!r}))\n"
    )
    oncall.clear_requests()
    fails(project, "no integration with id", "ASCII letters and digits")
    assert all(".." not in r["path"] for r in oncall.api_requests())


def test_crafted_import_id_fails_at_preview_without_a_request(
    project: Project, oncall: OnCall
) -> None:
    for crafted in ("../teams", "C1?x=1", "C1%2F", "C 1", "Cé1"):
        project.spec({"bad": {"type": "webhook", "import_id": crafted}})
        oncall.clear_requests()
        fails(project, "import_id must be an OnCall id", "ASCII letters and digits")
        assert oncall.api_requests() == []


def test_padded_strings_deploy_and_settle(project: Project, oncall: OnCall) -> None:
    project.spec({"padded": {"type": "webhook", "name": " padded ", "description_short": "  d \n"}})
    project.up()
    assert oncall.live()["padded"]["description_short"] == "d"
    project.assert_no_changes()


def test_padded_labels_deploy_and_settle_on_cloud(tmp_path: Path, cloud: Any) -> None:
    project = Project(tmp_path, cloud.url, token=CLOUD_API_KEY)
    project.spec({"labelled": {"type": "webhook", "labels": {" env ": " prod "}}})
    project.up()
    project.assert_no_changes()
    live = OnCall(cloud.url, CLOUD_API_KEY).live()["labelled"]
    assert [(i["key"]["name"], i["value"]["name"]) for i in live["labels"]] == [("env", "prod")]


def test_a_secret_input_that_fails_a_check_is_never_printed(tmp_path: Path, emulator: Any) -> None:
    project = program(
        tmp_path,
        emulator,
        f"Integration('sec', type='webhook', name=pulumi.Output.secret('S' * 151 + {SECRET!r}),\n"
        f"    description_short=pulumi.Output.secret('x' * 250 + {SECRET!r}),\n"
        f"    templates={{'grouping_key': pulumi.Output.secret('{{{{ x ' + {SECRET!r})}})\n",
    )
    text = fails(project, "name is 165 characters", "description_short is 264", "does not compile")
    assert text.count("a secret: its value is not shown") >= 3
    assert SECRET not in text
    assert "S" * 151 not in text


def test_two_resources_with_one_name_fail_at_preview(project: Project, oncall: OnCall) -> None:
    project.spec(
        {
            "first": {"type": "webhook", "name": "Same"},
            "second": {"type": "alertmanager", "name": " Same "},
            "elsewhere": {"type": "webhook", "name": "Same", "team_id": "TTEAMPLATFORM"},
        }
    )
    fails(project, "integrations 'first' and 'second' both declare the name 'Same' in no team")
    assert [r for r in oncall.api_requests() if r["method"] != "GET"] == []
    project.spec(
        {
            "one": {"type": "webhook", "import_id": "CSAME1"},
            "two": {"type": "webhook", "import_id": "CSAME1"},
        }
    )
    fails(project, "both declare import_id 'CSAME1'")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({"connection": 5}, "connection must be the name of an entry of oncall:connections"),
        ({"connection": ""}, "got an empty string"),
        ({"labels": {"env": None}}, "labels['env'] is None"),
        ({"team_id": 42}, "team_id must be a string id such as 'T...' (or \"\"), got a number"),
        ({"name": "nul\u0000name"}, "contains a NUL character"),
    ],
)
def test_careless_values_get_clear_messages(
    project: Project, args: dict[str, Any], expected: str
) -> None:
    project.spec({"careless": {"type": "webhook", **args}})
    text = fails(project, expected)
    assert "42.0" not in text
    assert "oncall:connections.5" not in text and "oncall:connections..url" not in text
