"""Shared fixtures. Constants live in emulator_seed.py so test modules can import them."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e_support import OnCall, Project
from emulator_seed import (
    CLOUD_API_KEY,
    EMULATOR_ARGS,
    GRAFANA_STACK,
    SA_TOKEN,
    SA_TOKEN_ROTATED,
    SA_VIEWER,
    SEED,
    TOKEN,
    VIEWER_TOKEN,
)

from pulumi_oncall import _render_cache, _render_worker
from pulumi_oncall import _template_checks as template_checks
from pulumi_oncall.emulator import EmulatorProcess

# Every test renders afresh, and no test writes to the home directory: the tests of
# the cache set a directory of their own.
os.environ[_render_cache.ENV] = "off"


@pytest.fixture
def forget_renders(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """Call it to drop what this process holds of earlier renders and checks, as a new
    process starts without them."""

    def forget() -> None:
        monkeypatch.setattr(_render_worker, "_rendered", {})
        monkeypatch.setattr(template_checks, "_clean", {})

    return forget


@pytest.fixture
def render_jobs(monkeypatch: pytest.MonkeyPatch, forget_renders: Callable[[], None]) -> list[Any]:
    """The jobs that reach the (real) render process, from a process that has rendered
    nothing yet."""
    forget_renders()
    sent: list[Any] = []
    real = _render_worker._renderer.run

    def run(job: Any) -> dict[str, Any]:
        sent.append(job)
        return real(job)

    monkeypatch.setattr(_render_worker._renderer, "run", run)
    return sent


@pytest.fixture(scope="session")
def emulator_process() -> Iterator[EmulatorProcess]:
    """One emulator for the whole session; tests want `emulator`, which resets it."""
    with EmulatorProcess(
        token=TOKEN, viewer_tokens=[VIEWER_TOKEN], seed=SEED, extra_args=EMULATOR_ARGS
    ) as emu:
        yield emu


@pytest.fixture(scope="session")
def emulator_startup(emulator_process: EmulatorProcess) -> dict[str, Any]:
    """Faults and settings as started, taken before any test changes them."""
    return {
        "faults": emulator_process.admin("GET", "faults"),
        "settings": emulator_process.admin("GET", "settings"),
    }


@pytest.fixture
def emulator(
    emulator_process: EmulatorProcess, emulator_startup: dict[str, Any]
) -> EmulatorProcess:
    """The session emulator, reset: no integrations, empty request log, fresh rate
    windows, startup faults and settings. Teams and chains: the seed's, plus any
    that earlier tests added."""
    emulator_process.admin("POST", "reset")
    emulator_process.admin("PUT", "faults", emulator_startup["faults"])
    emulator_process.admin("PUT", "settings", emulator_startup["settings"])
    return emulator_process


@pytest.fixture
def oncall(emulator: EmulatorProcess) -> OnCall:
    return OnCall(emulator.url)


@pytest.fixture
def project(tmp_path: Path, emulator: EmulatorProcess) -> Project:
    return Project(tmp_path, emulator.url)


@pytest.fixture(scope="session")
def cloud_process() -> Iterator[EmulatorProcess]:
    """A Grafana Cloud-flavoured emulator; tests want `cloud`, which resets it."""
    with EmulatorProcess(
        token=CLOUD_API_KEY,
        service_account_tokens=[SA_TOKEN, SA_TOKEN_ROTATED],
        service_account_viewer_tokens=[SA_VIEWER],
        grafana_url=GRAFANA_STACK,
        seed=SEED,
        extra_args=["--flavour", "cloud"],
    ) as emu:
        yield emu


@pytest.fixture
def cloud(cloud_process: EmulatorProcess) -> EmulatorProcess:
    cloud_process.admin("POST", "reset")
    return cloud_process
