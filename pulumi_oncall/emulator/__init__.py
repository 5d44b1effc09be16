"""A local emulator of the Grafana OnCall public API: integrations, routes, teams, chains.

Run it with `python -m pulumi_oncall.emulator --help`, or from Python with
`EmulatorProcess` (a subprocess) or `build_server` (in this process).
"""

from __future__ import annotations

from .app import create_app
from .faults import FaultSettings
from .process import EmulatorError, EmulatorProcess
from .server import build_server, serve
from .state import EmulatorConfig, EmulatorState

__all__ = [
    "EmulatorConfig",
    "EmulatorError",
    "EmulatorProcess",
    "EmulatorState",
    "FaultSettings",
    "build_server",
    "create_app",
    "serve",
]
