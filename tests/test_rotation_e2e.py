"""A token fixed in config after a failed `up` or a rotation, through the real CLI.

Without --run-program, `pulumi destroy` and `pulumi refresh` configure the provider
from the config recorded in the state by the last update; our runner passes
--run-program, and the provider's refusal says so.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from e2e_support import OnCall, Project
from emulator_seed import TOKEN

from pulumi_oncall._config import TOKEN_ENV
from pulumi_oncall._exceptions import AuthError
from pulumi_oncall._provider import IntegrationProvider
from pulumi_oncall.cli.run import pulumi_command

WRONG = "wrong-token-never-print-2b71"
TWO = {
    "a": {"type": "webhook", "name": "Rotated A"},
    "b": {"type": "alertmanager", "name": "Rotated B"},
}
RECORDED = "`pulumi destroy` and `pulumi refresh` use the settings recorded by the last `pulumi up`"


def runner(project: Project, command: str) -> subprocess.CompletedProcess[str]:
    """`python -m pulumi_oncall COMMAND`, as `./run COMMAND` runs it."""
    args = [command, "--cwd", str(project.dir), "--", "--non-interactive"]
    proc = subprocess.run(
        [sys.executable, "-m", "pulumi_oncall", *args],
        cwd=project.dir,
        env=project.env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    project.output += [proc.stdout, proc.stderr]
    return proc


def assert_refused_with_the_fixes(proc: subprocess.CompletedProcess[str], *more: str) -> None:
    text = proc.stdout + proc.stderr
    assert proc.returncode != 0, text
    for fragment in (
        "(a)",
        "(b)",
        "403 Invalid token.",
        RECORDED,
        "unless run with `--run-program`",
        "run `pulumi up` first",
        TOKEN_ENV,
        "read from the environment at every run",
        *more,
    ):
        assert fragment in text, f"{fragment!r} missing from:\n{text}"
    assert "Traceback" not in text, text


def assert_no_token_shown(project: Project) -> None:
    for text in project.output:
        assert TOKEN not in text and WRONG not in text


def wrong_token_recorded(project: Project, oncall: OnCall) -> dict[str, str]:
    """Two integrations, then an `up` that fails with a wrong token, then the token fixed
    in config: the state records the wrong one. Returns the live ids by name."""
    project.spec(TWO)
    project.up()
    created = {name: i["id"] for name, i in oncall.live().items()}
    assert set(created) == {"Rotated A", "Rotated B"}
    project.run("config", "set", "--secret", "oncall:token", WRONG)
    project.spec({key: {**spec, "description_short": "changed"} for key, spec in TWO.items()})
    failed = project.run("up", "--yes", "--skip-preview", check=False)
    assert failed.returncode != 0 and "Invalid token." in failed.stdout
    project.run("config", "set", "--secret", "oncall:token", TOKEN)
    project.spec(TWO)
    return created


PRECEDENCE = "but only where no oncall:token is set, recorded or current"


def test_destroy_after_a_failed_up_with_a_wrong_token(project: Project, oncall: OnCall) -> None:
    created = wrong_token_recorded(project, oncall)
    # Plain destroy still uses the recorded token; the environment cannot override it.
    project.env[TOKEN_ENV] = TOKEN
    assert_refused_with_the_fixes(project.run("destroy", "--yes", check=False), PRECEDENCE)
    assert {name: i["id"] for name, i in oncall.live().items()} == created
    assert len(project.integrations_in_state()) == 2
    del project.env[TOKEN_ENV]

    # Our runner runs the program, so the stack's current config applies.
    destroyed = runner(project, "destroy")
    assert destroyed.returncode == 0, destroyed.stdout + destroyed.stderr
    assert oncall.live() == {}
    assert all(oncall.get(i).status_code == 404 for i in created.values())
    assert project.integrations_in_state() == []
    assert_no_token_shown(project)


def test_refresh_after_a_failed_up_with_a_wrong_token(project: Project, oncall: OnCall) -> None:
    created = wrong_token_recorded(project, oncall)
    oncall.delete(created["Rotated A"])  # out of band, for the refresh to find
    project.env[TOKEN_ENV] = TOKEN
    assert_refused_with_the_fixes(project.run("refresh", "--yes", check=False), PRECEDENCE)
    assert len(project.integrations_in_state()) == 2
    del project.env[TOKEN_ENV]

    refreshed = runner(project, "refresh")
    assert refreshed.returncode == 0, refreshed.stdout + refreshed.stderr
    assert [r["id"] for r in project.integrations_in_state()] == [created["Rotated B"]]
    # Like an `up`, a refresh that ran the program recorded the current settings.
    project.run("destroy", "--yes")
    assert oncall.live() == {}
    assert_no_token_shown(project)


def test_a_token_from_the_environment_is_read_at_every_run(
    project: Project, oncall: OnCall
) -> None:
    project.run("config", "rm", "oncall:token")
    project.env[TOKEN_ENV] = TOKEN
    project.spec(TWO)
    project.up()
    assert set(oncall.live()) == {"Rotated A", "Rotated B"}

    # No --run-program: only the environment of this run can bring the wrong token.
    project.env[TOKEN_ENV] = WRONG
    came_from = f"This token came from {TOKEN_ENV}"
    assert_refused_with_the_fixes(project.run("refresh", "--yes", check=False), came_from)
    assert_refused_with_the_fixes(project.run("destroy", "--yes", check=False), came_from)
    assert set(oncall.live()) == {"Rotated A", "Rotated B"}

    project.env[TOKEN_ENV] = TOKEN
    project.run("refresh", "--yes")
    project.run("destroy", "--yes")
    assert oncall.live() == {}
    assert project.integrations_in_state() == []
    assert_no_token_shown(project)


@pytest.mark.parametrize(
    "command, extra, expected",
    [
        ("destroy", [], ["destroy", "--yes", "--run-program"]),
        ("refresh", ["--diff"], ["refresh", "--yes", "--run-program", "--diff"]),
        ("destroy", ["--run-program=false"], ["destroy", "--yes", "--run-program=false"]),
        ("refresh", ["--run-program"], ["refresh", "--yes", "--run-program"]),
        ("up", [], ["up", "--yes"]),
        ("preview", ["--diff"], ["preview", "--diff"]),
    ],
)
def test_the_runner_runs_the_program_for_destroy_and_refresh(
    command: str, extra: list[str], expected: list[str]
) -> None:
    assert pulumi_command(command, extra) == expected


def test_a_named_connection_is_told_only_the_fixes_that_apply(emulator: Any) -> None:
    provider = IntegrationProvider()
    connections = json.dumps({"ops": {"url": emulator.url, "token": WRONG}})
    values = {"oncall:connections": connections, "oncall:token": TOKEN}
    provider.configure_from(values.get, {TOKEN_ENV: TOKEN})
    props = {"type": "webhook", "name": "Named", "connection": "ops"}
    for operation in (
        lambda: provider.read("CNAMED123", props),
        lambda: provider.delete("CNAMED123", props),
    ):
        with pytest.raises(AuthError) as info:
            operation()
        message = str(info.value)
        assert message.startswith("integration 'Named': ")
        assert RECORDED in message and "if oncall:connections.ops.token was fixed since" in message
        assert TOKEN_ENV not in message.split(RECORDED)[1]  # named connections ignore it
        assert WRONG not in message and WRONG not in repr(info.value)
