"""`up`, `preview`, `refresh`, `destroy`: run a Pulumi program against OnCall or an emulator.

When no OnCall is configured (neither `oncall:url` in the stack nor
GRAFANA_ONCALL_URL), an emulator is started for the run, keeping its data in a
directory, so repeated runs see the same integrations. `destroy` and `refresh` run
the program too (`--run-program`, unless given after `--`), so that they use the
stack's current config rather than the one recorded by the last update.

Environment:
  PULUMI_BACKEND_URL          the Pulumi backend; default: a file backend in
                              `.pulumi-state/` of the project (`./run` sets one
                              for the whole repository)
  PULUMI_ONCALL_EMULATOR_DIR  where the emulator keeps its data; default:
                              `.oncall-emulator/` of the project (`./run`: of
                              the repository)
  PULUMI_CONFIG_PASSPHRASE    the stack's passphrase; default: empty
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

from .._config import TOKEN_ENV, URL_ENV, URL_KEY

COMMANDS = ("up", "preview", "refresh", "destroy")
EMULATOR_DIR_ENV = "PULUMI_ONCALL_EMULATOR_DIR"
EMULATOR_PUBLIC_URL = "http://oncall.localhost"


def pulumi(
    args: list[str], cwd: Path, env: dict[str, str], check: bool = True, quiet: bool = False
) -> int:
    command = ["pulumi", *args]
    return subprocess.run(command, cwd=cwd, env=env, check=check, capture_output=quiet).returncode


def stack_has(key: str, cwd: Path, env: dict[str, str]) -> bool:
    result = subprocess.run(
        ["pulumi", "config", "get", key], cwd=cwd, env=env, capture_output=True, text=True
    )
    return result.returncode == 0 and bool(result.stdout.strip())


def pulumi_command(command: str, extra: list[str]) -> list[str]:
    """The `pulumi` arguments for COMMAND, with the user's `extra` ones after ours.

    Without --run-program, destroy and refresh configure the provider from the config
    recorded in the state by the last update: a token fixed since would not be used.
    """
    ours = [] if command == "preview" else ["--yes"]
    given = any(a == "--run-program" or a.startswith("--run-program=") for a in extra)
    if command in ("destroy", "refresh") and not given:
        ours.append("--run-program")
    return [command, *ours, *extra]


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stack", default="dev", help="stack to select or create (default: dev)")
    parser.add_argument("--cwd", type=Path, default=Path.cwd(), help="the Pulumi project directory")


def run(args: argparse.Namespace, extra: list[str]) -> int:
    """Run `pulumi ARGS.command` with `extra` arguments passed through to it."""
    cwd: Path = args.cwd.resolve()
    if shutil.which("pulumi") is None:
        sys.exit("no `pulumi` on PATH; ./run builds one (see the README)")

    env = dict(os.environ)
    # A local file backend: no Pulumi account needed.
    env.setdefault("PULUMI_BACKEND_URL", f"file://{cwd / '.pulumi-state'}")
    env.setdefault("PULUMI_CONFIG_PASSPHRASE", "")
    env.setdefault("PULUMI_SKIP_UPDATE_CHECK", "true")
    backend = env["PULUMI_BACKEND_URL"]
    if backend.startswith("file://"):
        state = Path(backend.removeprefix("file://").split("?")[0]).expanduser()
        state.mkdir(parents=True, exist_ok=True)

    # Select the stack, or create it; the probe's "no stack named ..." is expected.
    if pulumi(["stack", "select", args.stack], cwd, env, check=False, quiet=True) != 0:
        pulumi(["stack", "init", args.stack], cwd, env)

    command = pulumi_command(args.command, extra)
    if stack_has(URL_KEY, cwd, env) or env.get(URL_ENV):
        return pulumi(command, cwd, env, check=False)

    from ..emulator.process import EmulatorProcess

    data = Path(env.get(EMULATOR_DIR_ENV) or cwd / ".oncall-emulator").resolve()
    data.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(24)
    seed = Path(__file__).parents[1] / "emulator" / "demo-seed.json"
    print(f"no {URL_KEY} configured: using a local OnCall emulator ({data})", file=sys.stderr)
    with EmulatorProcess(
        token=token,
        extra_args=[
            "--db",
            str(data / "oncall.sqlite3"),
            "--public-url",
            EMULATOR_PUBLIC_URL,
            "--seed",
            str(seed),
            "--slack-connected",
        ],
    ) as emulator:
        env[URL_ENV] = emulator.url
        env[TOKEN_ENV] = token
        return pulumi(command, cwd, env, check=False)
