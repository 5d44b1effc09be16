"""The Pulumi CLI from scripts/pulumi-cli.sh drives Python dynamic resources for real."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pulumi
import pytest
from pulumi import automation as auto
from pulumi.dynamic import CreateResult, Resource, ResourceProvider
from pulumi_env import CLI_SCRIPT, cli_bin_dir, pulumi_command, pulumi_env, run_pulumi

VERSION = "3.260.0"
RESOURCE_TYPE = "pulumi-python:dynamic:Resource"

PROGRAM = """
import json
import os
from pathlib import Path

import pulumi
from pulumi.dynamic import ConfigureRequest, CreateResult, Resource, ResourceProvider

# A sibling module: the provider process must be able to import it too.
from greeting import greet


class GreetingProvider(ResourceProvider):
    def configure(self, req: ConfigureRequest) -> None:
        # Record what the engine hands to dynamic providers (the Config has no public keys()).
        Path(os.environ["RECORD_CONFIG"]).write_text(
            json.dumps({"keys": sorted(req.config._props), "url": req.config.get("oncall:url")})
        )

    def create(self, props):
        outs = {**props, "message": greet(props["name"])}
        return CreateResult(id_="greeting-" + props["name"], outs=outs)


class Greeting(Resource):
    message: pulumi.Output[str]

    def __init__(self, name, who):
        super().__init__(GreetingProvider(), name, {"name": who, "message": None})


oncall = pulumi.Config("oncall")
greeting = Greeting("hello", "world")
pulumi.export("message", greeting.message)
pulumi.export("url", oncall.get("url"))
pulumi.export("token", oncall.require_secret("token"))
"""


@pytest.fixture(scope="session")
def cli_dir() -> Path:
    return cli_bin_dir()


def write_project(path: Path, runtime: str = "runtime: python\n") -> Path:
    path.mkdir(parents=True)
    (path / "Pulumi.yaml").write_text(f"name: greeting\n{runtime}")
    (path / "__main__.py").write_text(PROGRAM)
    (path / "greeting.py").write_text("def greet(who):\n    return 'hello ' + who\n")
    return path


def dynamic_resources(state: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for r in state["deployment"].get("resources", []) if r["type"] == RESOURCE_TYPE]


def test_script_is_stamped_and_provides_plugins(cli_dir: Path) -> None:
    for name in (
        "pulumi",
        "pulumi-language-python",
        "pulumi-language-python-exec",
        "pulumi-resource-pulumi-python",
    ):
        assert (cli_dir / name).is_file(), name
    version = subprocess.run(
        [cli_dir / "pulumi", "version"],
        capture_output=True,
        text=True,
        check=True,
        env={"PULUMI_SKIP_UPDATE_CHECK": "true", "HOME": str(Path.home())},
    )
    assert version.stdout.strip() == f"v{VERSION}"

    start = time.monotonic()
    again = subprocess.run(["bash", CLI_SCRIPT], capture_output=True, text=True, check=True)
    assert again.stdout.strip().splitlines()[-1] == str(cli_dir)
    assert time.monotonic() - start < 15, again.stderr


def test_dynamic_resource_lifecycle(tmp_path: Path) -> None:
    project = write_project(tmp_path / "project")
    record = tmp_path / "configure.json"
    env = pulumi_env(tmp_path, {"RECORD_CONFIG": str(record)})

    def pulumi_(*args: str) -> subprocess.CompletedProcess[str]:
        return run_pulumi(list(args), project, env)

    pulumi_("stack", "init", "dev")
    pulumi_("config", "set", "oncall:url", "http://oncall.test")
    pulumi_("config", "set", "--secret", "oncall:token", "s3cret")
    pulumi_("up", "--yes", "--skip-preview")

    assert json.loads(pulumi_("stack", "output", "--json").stdout) == {
        "message": "hello world",
        "url": "http://oncall.test",
        "token": "[secret]",
    }
    shown = pulumi_("stack", "output", "--json", "--show-secrets").stdout
    assert json.loads(shown)["token"] == "s3cret"
    [res] = dynamic_resources(json.loads(pulumi_("stack", "export").stdout))
    assert res["id"] == "greeting-world"
    assert res["outputs"]["message"] == "hello world"
    # Dynamic providers get the whole stack config, namespaced keys and decrypted secrets.
    assert json.loads(record.read_text()) == {
        "keys": ["oncall:token", "oncall:url"],
        "url": "http://oncall.test",
    }

    pulumi_("preview", "--expect-no-changes")
    pulumi_("refresh", "--yes")
    pulumi_("preview", "--expect-no-changes")
    pulumi_("destroy", "--yes")
    assert dynamic_resources(json.loads(pulumi_("stack", "export").stdout)) == []


def test_virtualenv_option_picks_the_python(tmp_path: Path) -> None:
    """Without PULUMI_PYTHON_CMD, the host and the provider use Pulumi.yaml's virtualenv."""
    project = write_project(
        tmp_path / "project", "runtime:\n  name: python\n  options:\n    virtualenv: venv\n"
    )
    calls = tmp_path / "calls.log"
    python = project / "venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(f'#!/bin/sh\necho "$@" >> {calls}\nexec {sys.executable} "$@"\n')
    python.chmod(0o755)
    env = pulumi_env(tmp_path, {"RECORD_CONFIG": str(tmp_path / "configure.json")})
    del env["PULUMI_PYTHON_CMD"]

    run_pulumi(["stack", "init", "dev"], project, env)
    run_pulumi(["config", "set", "--secret", "oncall:token", "t"], project, env)
    run_pulumi(["up", "--yes", "--skip-preview"], project, env)
    run_pulumi(["destroy", "--yes"], project, env)

    log = calls.read_text()
    assert "pulumi_language_python_host.py" in log
    assert "pulumi-language-python-exec" in log
    assert "-m pulumi.dynamic" in log


class Doubler(ResourceProvider):
    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(id_="doubled", outs={**props, "doubled": props["n"] * 2})


class Doubled(Resource):
    doubled: pulumi.Output[int]

    def __init__(self, name: str, n: int) -> None:
        super().__init__(Doubler(), name, {"n": n, "doubled": None})


def doubled_program() -> None:
    pulumi.export("doubled", Doubled("d", 21).doubled)


def test_automation_inline_and_local_programs(tmp_path: Path) -> None:
    # The provider unpickles Doubler by reference to this module, so it must be importable.
    tests_dir = str(Path(__file__).parent)
    env = pulumi_env(tmp_path, {"PYTHONPATH": tests_dir, "RECORD_CONFIG": str(tmp_path / "c")})
    command = pulumi_command()

    inline = auto.create_or_select_stack(
        "dev",
        project_name="inline",
        program=doubled_program,
        opts=auto.LocalWorkspaceOptions(
            work_dir=str(tmp_path),
            pulumi_home=env["PULUMI_HOME"],
            env_vars=env,
            pulumi_command=command,
            project_settings=auto.ProjectSettings(name="inline", runtime="python"),
        ),
    )
    up = inline.up()
    assert up.outputs["doubled"].value == 42
    assert up.summary.resource_changes == {"create": 2}
    assert inline.preview().change_summary == {"same": 2}
    assert inline.destroy().summary.resource_changes == {"delete": 2}

    project = write_project(tmp_path / "local")
    local = auto.create_or_select_stack(
        "dev",
        work_dir=str(project),
        opts=auto.LocalWorkspaceOptions(
            pulumi_home=env["PULUMI_HOME"], env_vars=env, pulumi_command=command
        ),
    )
    local.set_config("oncall:token", auto.ConfigValue("t", secret=True))
    assert local.up().outputs["message"].value == "hello world"
    assert local.preview().change_summary == {"same": 2}
    assert local.destroy().summary.resource_changes == {"delete": 2}


def test_program_error_is_reported(tmp_path: Path) -> None:
    project = tmp_path / "broken"
    project.mkdir()
    (project / "Pulumi.yaml").write_text("name: broken\nruntime: python\n")
    (project / "__main__.py").write_text(textwrap.dedent('raise ValueError("boom")\n'))
    env = pulumi_env(tmp_path)
    run_pulumi(["stack", "init", "dev"], project, env)
    proc = run_pulumi(["up", "--yes", "--skip-preview"], project, env, check=False)
    assert proc.returncode != 0
    assert "ValueError: boom" in proc.stdout + proc.stderr
