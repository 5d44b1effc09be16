"""Grafana OnCall integrations as Pulumi resources."""

from ._version import __version__
from .lookups import (
    EscalationChain,
    IntegrationInfo,
    LookupFailed,
    Team,
    get_escalation_chain,
    get_escalation_chain_output,
    get_integration,
    get_integration_output,
    get_team,
    get_team_output,
)
from .resources import (
    DefaultRouteArgs,
    Integration,
    RouteSlackArgs,
    RouteTargetArgs,
    TemplatesArgs,
)

__all__ = [
    "DefaultRouteArgs",
    "EscalationChain",
    "Integration",
    "IntegrationInfo",
    "LookupFailed",
    "RouteSlackArgs",
    "RouteTargetArgs",
    "Team",
    "TemplatesArgs",
    "__version__",
    "get_escalation_chain",
    "get_escalation_chain_output",
    "get_integration",
    "get_integration_output",
    "get_team",
    "get_team_output",
]
