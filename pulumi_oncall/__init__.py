"""Grafana OnCall integrations as Pulumi resources."""

from ._args import (
    DefaultRouteArgs,
    RichTemplateArgs,
    RouteArgs,
    RouteSlackArgs,
    RouteTargetArgs,
    TemplatesArgs,
    TitleMessageTemplateArgs,
    TitleTemplateArgs,
)
from ._declared import Connection
from ._lookups import (
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
from ._resources import Integration
from ._version import __version__

__all__ = [
    "Connection",
    "DefaultRouteArgs",
    "EscalationChain",
    "Integration",
    "IntegrationInfo",
    "LookupFailed",
    "RichTemplateArgs",
    "RouteArgs",
    "RouteSlackArgs",
    "RouteTargetArgs",
    "Team",
    "TemplatesArgs",
    "TitleMessageTemplateArgs",
    "TitleTemplateArgs",
    "__version__",
    "get_escalation_chain",
    "get_escalation_chain_output",
    "get_integration",
    "get_integration_output",
    "get_team",
    "get_team_output",
]
