"""Helpers to drive the real Pulumi CLI offline from tests.

`cli_bin_dir()` runs scripts/pulumi-cli.sh once per process (the first build of the CLI
takes minutes; later calls are instant thanks to its stamp). `pulumi_env()` gives an
environment with a local file backend, no Pulumi account and no plugin downloads.
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pulumi.automation import PulumiCommand

REPO_ROOT = Path(__file__).resolve().parents[1]
CLI_SCRIPT = REPO_ROOT / "scripts" / "pulumi-cli.sh"
PASSPHRASE = "test"
# Ambient settings that could point the CLI at a real account, another state or Python.
_SCRUBBED = (
    "PULUMI_ACCESS_TOKEN",
    "PULUMI_CONFIG_PASSPHRASE_FILE",
    "PULUMI_RUNTIME_VIRTUALENV",
    "PULUMI_STACK",
    "PULUMI_DEBUG_LANGUAGES",
    "PULUMI_DEBUG_PROVIDERS",
)


@functools.cache
def cli_bin_dir() -> Path:
    """Directory holding `pulumi` and its Python plugins (built on first use)."""
    proc = subprocess.run(
        ["bash", str(CLI_SCRIPT)],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=3600,
        check=False,
    )
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise RuntimeError(
            f"{CLI_SCRIPT} failed (exit {proc.returncode})\n"
            f"--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}"
        )
    return Path(lines[-1])


def pulumi_env(tmp_path: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment for running `pulumi` against a file backend under `tmp_path`.

    State goes to `tmp_path/pulumi-state`, PULUMI_HOME to `tmp_path/pulumi-home`.
    Programs and dynamic providers run with this interpreter (PULUMI_PYTHON_CMD), so
    whatever the test process can import, they can import too.
    """
    env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED}
    state = tmp_path / "pulumi-state"
    state.mkdir(parents=True, exist_ok=True)
    # Not resolved: a venv's python is a symlink and only works through the venv path.
    venv_bin = Path(sys.executable).parent
    env.update(
        PATH=os.pathsep.join([str(cli_bin_dir()), str(venv_bin), env.get("PATH", "")]),
        PULUMI_HOME=str(tmp_path / "pulumi-home"),
        PULUMI_BACKEND_URL=state.as_uri(),
        PULUMI_CONFIG_PASSPHRASE=PASSPHRASE,
        PULUMI_PYTHON_CMD=sys.executable,
        # Never reach out to the network: no update check, plugin download or registry.
        PULUMI_SKIP_UPDATE_CHECK="true",
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION="true",
        PULUMI_DISABLE_REGISTRY_RESOLVE="true",
        PULUMI_SKIP_CONFIRMATIONS="true",
        PYTHONUNBUFFERED="1",
    )
    if extra:
        env.update(extra)
    return env


def pulumi_command() -> PulumiCommand:
    """Automation API handle on our CLI (PulumiCommand wants the dir above `bin/pulumi`)."""
    from pulumi.automation import PulumiCommand

    return PulumiCommand(root=str(cli_bin_dir().parent))


def run_pulumi(
    args: Sequence[str],
    cwd: Path,
    env: Mapping[str, str],
    *,
    check: bool = True,
    timeout: float = 600,
) -> subprocess.CompletedProcess[str]:
    """Run `pulumi ARGS` non-interactively; on failure raise with its full output."""
    cmd = [str(cli_bin_dir() / "pulumi"), *args, "--non-interactive"]
    proc = subprocess.run(
        cmd,
        cwd=cwd,
        env=dict(env),
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=timeout,
        check=False,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"`pulumi {' '.join(args)}` exited {proc.returncode} in {cwd}\n"
            f"--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}"
        )
    return proc
