"""The package as users get it: a wheel installed in a fresh venv, with the oldest SDK we
accept, deploying a plain Pulumi project that contains nothing from this repository."""

from __future__ import annotations

import os
import re
import selectors
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from e2e_support import REPO, OnCall
from pulumi_env import cli_bin_dir, pulumi_env, run_pulumi

TOKEN = "wheel-test-token"
CHAIN = "FDEMOCHAIN001"  # in the package's demo seed
PYPROJECT = (REPO / "pyproject.toml").read_text()
CONSTRAINTS = REPO / "tools" / "pulumi-cli" / "constraints.txt"

PROGRAM = f'''\
import pulumi
from pulumi_oncall import Integration

deploys = Integration(
    "deploys",
    type="webhook",
    name="Deploys (from the wheel)",
    description_short="installed from a wheel",
    default_route={{"escalation_chain_id": "{CHAIN}"}},
    templates={{"web": {{"title": "{{{{ payload.title }}}}"}}}},
)
pulumi.export("id", deploys.integration_id)
'''


def oldest_sdk() -> str:
    match = re.search(r'"pulumi>=([0-9.]+),<4"', PYPROJECT)
    assert match, "pyproject.toml must require pulumi as a range `pulumi>=X,<4`"
    return match.group(1)


def data_files() -> list[str]:
    """Package data that must ship: every non-Python file the package declares."""
    package = REPO / "pulumi_oncall"
    files = [package / "py.typed", package / "emulator" / "demo-seed.json"]
    files += sorted((package / "samples").glob("**/*.json"))
    return [f.relative_to(REPO).as_posix() for f in files]


def run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, f"{cmd} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


def wait(proc: subprocess.Popen[str], what: str) -> None:
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, f"{what} exited {proc.returncode}\n{out}\n{err}"


@pytest.fixture
def emulator_from(tmp_path: Path) -> Iterator[Callable[[Path, Path], str]]:
    """Starts `python -m pulumi_oncall.emulator` of a given venv; yields a starter."""
    started: list[subprocess.Popen[str]] = []

    def start(python: Path, seed: Path) -> str:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        env["ONCALL_EMULATOR_TOKENS"] = TOKEN
        errors = tmp_path / "emulator.err"
        with errors.open("w") as stderr:
            proc = subprocess.Popen(
                [str(python), "-m", "pulumi_oncall.emulator", "--port", "0", "--seed", str(seed)],
                cwd=tmp_path,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
            )
        started.append(proc)
        assert proc.stdout is not None
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            ready = sel.select(timeout=30)
        line = proc.stdout.readline() if ready else ""
        assert line.startswith("oncall-emulator listening on"), line + errors.read_text()
        return line.split()[-1]

    yield start
    for proc in started:
        proc.terminate()
        proc.wait(10)


def test_sdk_pins_agree_with_the_cli() -> None:
    """./run installs the SDK of the CLI it builds; the range admits it."""
    pinned = re.search(r"^pulumi==([0-9.]+)$", CONSTRAINTS.read_text(), re.M)
    cli = re.search(
        r"^readonly VERSION=([0-9.]+)$", (REPO / "scripts/pulumi-cli.sh").read_text(), re.M
    )
    host = REPO / "tools/pulumi-cli/bin-shims/pulumi_language_python_host.py"
    host_version = re.search(r'^VERSION = "([0-9.]+)"$', host.read_text(), re.M)
    assert pinned and cli and host_version
    assert pinned.group(1) == cli.group(1) == host_version.group(1)
    as_tuple = [tuple(map(int, v.split("."))) for v in (oldest_sdk(), pinned.group(1))]
    assert as_tuple[0] <= as_tuple[1] < (4,)


def test_wheel_installs_and_deploys_from_a_fresh_venv(
    tmp_path: Path, emulator_from: Callable[[Path, Path], str]
) -> None:
    dist, venv, project = tmp_path / "dist", tmp_path / "venv", tmp_path / "project"
    python = venv / "bin" / "python"
    sdk = oldest_sdk()
    pip = [str(python), "-m", "pip", "install", "--quiet", "--no-compile"]
    pip += ["--disable-pip-version-check"]
    # The build and the SDK's install are independent: run them at once.
    build = subprocess.Popen(
        [sys.executable, "-m", "build", "--outdir", str(dist), str(REPO)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    make_venv = subprocess.Popen(
        ["sh", "-c", f'"{sys.executable}" -m venv "$0" && "$@"', str(venv), *pip, f"pulumi=={sdk}"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait(build, "python -m build")
    wait(make_venv, "venv with the oldest SDK")

    (wheel,) = dist.glob("*.whl")
    (sdist,) = dist.glob("*.tar.gz")
    with zipfile.ZipFile(wheel) as zipped, tarfile.open(sdist) as tarred:
        in_wheel = set(zipped.namelist())
        in_sdist = {n.split("/", 1)[1] for n in tarred.getnames() if "/" in n}
    for name in data_files():
        assert name in in_wheel and name in in_sdist, name

    run([*pip, f"{wheel}[emulator]"], cwd=tmp_path)
    located = run(
        [str(python), "-c", "import pulumi, pulumi_oncall; print(pulumi_oncall.__file__)"],
        cwd=tmp_path,
    ).stdout.strip()
    assert Path(located).is_relative_to(venv), located
    version = run([str(python), "-m", "pip", "show", "pulumi"], cwd=tmp_path).stdout
    assert f"\nVersion: {sdk}\n" in version
    seed = Path(located).parent / "emulator" / "demo-seed.json"
    url = emulator_from(python, seed)

    project.mkdir()
    (project / "Pulumi.yaml").write_text(
        f"name: wheel-user\nruntime:\n  name: python\n  options:\n    virtualenv: {venv}\n"
    )
    (project / "__main__.py").write_text(PROGRAM)
    env = pulumi_env(tmp_path)
    # The language host and the provider must take the project's venv, not ours.
    del env["PULUMI_PYTHON_CMD"]
    env.pop("PYTHONPATH", None)
    env.pop("VIRTUAL_ENV", None)
    paths = [p for p in env["PATH"].split(os.pathsep) if p and not Path(p).is_relative_to(REPO)]
    env["PATH"] = os.pathsep.join([str(cli_bin_dir()), *paths])
    for args in (
        ["stack", "init", "dev"],
        ["config", "set", "oncall:url", url],
        ["config", "set", "--secret", "oncall:token", TOKEN],
        ["up", "--yes", "--skip-preview"],
        ["preview", "--expect-no-changes"],
    ):
        run_pulumi(args, project, env)

    oncall = OnCall(url, TOKEN)
    integration_id = run_pulumi(["stack", "output", "id"], project, env).stdout.strip()
    live = oncall.get(integration_id).json()
    assert live["type"] == "webhook"
    assert live["name"] == "Deploys (from the wheel)"
    assert live["description_short"] == "installed from a wheel"
    assert live["default_route"]["escalation_chain_id"] == CHAIN
    assert live["templates"]["web"]["title"] == "{{ payload.title }}"

    run_pulumi(["destroy", "--yes"], project, env)
    assert oncall.get(integration_id).status_code == 404
    assert oncall.live() == {}
