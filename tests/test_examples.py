"""The examples run with the commands the README shows: `./run up --cwd examples/...`.

The runs use a stack of their own and keep state, emulator data and PULUMI_HOME in a
tmp dir (the runner's environment overrides), so that a developer's own stacks,
state and emulator data in the repository are neither used nor touched.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from pathlib import Path
from typing import Any

from e2e_support import REPO
from pulumi_env import run_pulumi

from pulumi_oncall.cli.run import EMULATOR_DIR_ENV, EMULATOR_PUBLIC_URL
from pulumi_oncall.emulator import EmulatorProcess

PRODUCER = "examples/cross-stack/producer"
CONSUMER = "examples/cross-stack/consumer"
BASIC = "examples/basic"
# Settings that would point the runs at a real OnCall, another state or another Python.
SCRUBBED = (
    "GRAFANA_ONCALL_URL",
    "GRAFANA_ONCALL_ACCESS_TOKEN",
    "PULUMI_ACCESS_TOKEN",
    "PULUMI_CONFIG_PASSPHRASE",
    "PULUMI_CONFIG_PASSPHRASE_FILE",
    "PULUMI_PYTHON_CMD",
    "PULUMI_RUNTIME_VIRTUALENV",
    "PULUMI_STACK",
    "PYTHONPATH",
    "VIRTUAL_ENV",
)


def files_under(*roots: Path) -> dict[str, int]:
    """Every file with its mtime: what the test must leave as it found it."""
    return {
        str(path): path.stat().st_mtime_ns
        for root in roots
        for path in (root.rglob("*") if root.exists() else ())
        if path.is_file()
    }


def live_integrations(data: Path) -> dict[str, dict[str, Any]]:
    """The integrations in the runner's emulator data, read through the emulator."""
    with EmulatorProcess(
        token="examples-check",
        db=data / "oncall.sqlite3",
        extra_args=["--public-url", EMULATOR_PUBLIC_URL],
    ) as emulator:
        rows = emulator.admin("GET", "integrations")["integrations"]
    return {r["name"]: r for r in rows if not r["deleted"]}


def test_examples_run_as_the_readme_shows(tmp_path: Path) -> None:
    stack = "test-" + secrets.token_hex(4)
    data = tmp_path / "emulator"
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED}
    env.update(
        {
            "PULUMI_BACKEND_URL": f"file://{tmp_path / 'state'}",
            EMULATOR_DIR_ENV: str(data),
            "PULUMI_HOME": str(tmp_path / "pulumi-home"),
            "PULUMI_CONFIG_PASSPHRASE": "",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )
    guarded = [REPO / "examples", REPO / ".pulumi-state", REPO / ".oncall-emulator"]
    before = files_under(*guarded)

    def run(command: str, example: str) -> None:
        proc = subprocess.run(
            [str(REPO / "run"), command, "--stack", stack, "--cwd", example],
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert proc.returncode == 0, (
            f"./run {command} --cwd {example}\n{proc.stdout}\n{proc.stderr}"
        )

    def outputs(example: str, *flags: str) -> dict[str, Any]:
        shown = run_pulumi(
            ["stack", "output", "--json", "--stack", stack, *flags], REPO / example, env
        )
        result: dict[str, Any] = json.loads(shown.stdout)
        return result

    try:
        run("up", PRODUCER)
        run("up", CONSUMER)
        run("up", BASIC)
        link = outputs(PRODUCER, "--show-secrets")["alertmanager_link"]
        assert link.startswith(EMULATOR_PUBLIC_URL)
        assert outputs(CONSUMER)["webhook_url"] == "[secret]"
        assert outputs(CONSUMER, "--show-secrets")["webhook_url"] == link
        live = live_integrations(data)
        assert set(live) == {"Shared Alertmanager", "Alertmanager (basic example)"}
        assert live["Shared Alertmanager"]["link"] == link

        for example in (CONSUMER, PRODUCER, BASIC):
            run("destroy", example)
        assert live_integrations(data) == {}
    finally:
        for example in (CONSUMER, PRODUCER, BASIC):
            run_pulumi(
                ["stack", "rm", "--yes", "--force", "--stack", stack],
                REPO / example,
                env,
                check=False,
            )
            (REPO / example / f"Pulumi.{stack}.yaml").unlink(missing_ok=True)
    assert files_under(*guarded) == before
