"""Grafana OnCall integrations as Pulumi resources."""

from ._version import __version__
from .resources import (
    DefaultRouteArgs,
    Integration,
    RouteSlackArgs,
    RouteTargetArgs,
    TemplatesArgs,
)

__all__ = [
    "DefaultRouteArgs",
    "Integration",
    "RouteSlackArgs",
    "RouteTargetArgs",
    "TemplatesArgs",
    "__version__",
]
