"""Existing OnCall objects looked up by name from a program (Terraform's data sources).

Each lookup has an `..._output` twin that takes Inputs and returns an Output. They run
in the program, at preview too, with the provider's settings: `oncall:url`,
`oncall:token`, `oncall:grafanaUrl` (or their environment variables), the named
`connection`, or a `Connection` declared in the program (whose Outputs only the
`_output` twins can wait for). Teams and escalation chains are listed once per connection
(`connection.Connection`). Every failure is a `LookupFailed`.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi

from . import _model as model
from ._catalog import describe
from ._client import JSONObject
from ._connection import Connection, from_program
from ._declared import Connection as DeclaredConnection
from ._exceptions import LookupFailed, OnCallError

__all__ = [
    "EscalationChain",
    "IntegrationInfo",
    "LookupFailed",
    "Team",
    "get_escalation_chain",
    "get_escalation_chain_output",
    "get_integration",
    "get_integration_output",
    "get_team",
    "get_team_output",
]


@dataclass(frozen=True)
class Team:
    id: str
    name: str
    email: str | None = None
    avatar_url: str | None = None


@dataclass(frozen=True)
class EscalationChain:
    id: str
    name: str
    team_id: str | None = None


@dataclass(frozen=True)
class IntegrationInfo:
    """An existing integration's fields. Its `link` is left out on purpose: it is a
    secret, which `Integration.get` returns as one."""

    id: str
    name: str
    type: str
    team_id: str | None = None
    description_short: str | None = None
    default_route_id: str | None = None
    default_route: dict[str, Any] = field(default_factory=dict)
    templates: dict[str, Any] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    dynamic_labels: dict[str, str] = field(default_factory=dict)


# A connection as the lookups take it: a name, a declared one, or None (the default).
Via = str | DeclaredConnection | None


def get_team(name: str, *, connection: Via = None) -> Team:
    """The team with this exact name."""
    found = _one(_connection(connection), "team", _teams, name)
    return Team(found["id"], found["name"], found.get("email"), found.get("avatar_url"))


def get_team_output(
    name: pulumi.Input[str], *, connection: pulumi.Input[str | None] | DeclaredConnection = None
) -> pulumi.Output[Team]:
    return pulumi.Output.all(name, _waited(connection)).apply(
        lambda a: get_team(a[0], connection=a[1])
    )


def get_escalation_chain(
    name: str, *, team_id: str | None = None, connection: Via = None
) -> EscalationChain:
    """The escalation chain with this exact name (in `team_id`, when given)."""
    found = _one(_connection(connection), "escalation chain", _chains, name, team_id)
    return EscalationChain(found["id"], found["name"], found.get("team_id"))


def get_escalation_chain_output(
    name: pulumi.Input[str],
    *,
    team_id: pulumi.Input[str | None] = None,
    connection: pulumi.Input[str | None] | DeclaredConnection = None,
) -> pulumi.Output[EscalationChain]:
    return pulumi.Output.all(name, team_id, _waited(connection)).apply(
        lambda a: get_escalation_chain(a[0], team_id=a[1], connection=a[2])
    )


def get_integration(
    name: str, *, team_id: str | None = None, connection: Via = None
) -> IntegrationInfo:
    """The integration with this exact name (in `team_id`, when given)."""
    found = _one(_connection(connection), "integration", _integrations, name, team_id)
    spec = model.adoptable_spec(found)
    route = found.get("default_route") or {}
    return IntegrationInfo(
        id=found["id"],
        name=found["name"],
        type=found["type"],
        team_id=found.get("team_id"),
        description_short=found.get("description_short"),
        default_route_id=route.get("id"),
        default_route=spec.get("default_route", {}),
        templates=spec.get("templates", {}),
        labels=spec.get("labels", {}),
        dynamic_labels=spec.get("dynamic_labels", {}),
    )


def get_integration_output(
    name: pulumi.Input[str],
    *,
    team_id: pulumi.Input[str | None] = None,
    connection: pulumi.Input[str | None] | DeclaredConnection = None,
) -> pulumi.Output[IntegrationInfo]:
    return pulumi.Output.all(name, team_id, _waited(connection)).apply(
        lambda a: get_integration(a[0], team_id=a[1], connection=a[2])
    )


# -- plumbing -------------------------------------------------------------------


def _connection(name: Via) -> Connection:
    where: Any = name
    if isinstance(name, DeclaredConnection):
        where = name._plain()
        if where is None:
            raise LookupFailed(
                "this Connection's values are Outputs, which a plain lookup cannot wait for: "
                "use the lookup's _output twin (get_team_output, ...)"
            )
    try:
        return from_program(where)
    except OnCallError as exc:
        raise LookupFailed(str(exc)) from None


def _waited(connection: Any) -> Any:
    """A declared connection as an Output of it with its values known; the lookup's
    result holds no token, so it is not a secret for the token's sake."""
    if isinstance(connection, DeclaredConnection):
        return connection._resolved()
    return connection


def _teams(known: Connection, name: str) -> list[JSONObject]:
    return known.teams.get()


def _chains(known: Connection, name: str) -> list[JSONObject]:
    return known.escalation_chains.get()


def _integrations(known: Connection, name: str) -> list[JSONObject]:
    # The server filters by exact name; all names are needed only for suggestions.
    return known.client.list_integrations(name=name) or known.client.list_integrations()


def _one(
    known: Connection,
    kind: str,
    listing: Any,
    name: str,
    team_id: str | None = None,
) -> JSONObject:
    where = f" in team {team_id}" if team_id else ""
    try:
        items: list[JSONObject] = listing(known, name)
    except OnCallError as exc:
        raise LookupFailed(f"looking up the {kind} named {name!r}: {exc}") from None
    matches = [
        i
        for i in items
        if i.get("name") == name and (team_id is None or i.get("team_id") == team_id)
    ]
    if len(matches) == 1:
        return matches[0]
    if matches:
        teams = ", ".join(f"{m.get('id')} (team {m.get('team_id') or 'none'})" for m in matches)
        fix = "pass team_id= to choose" if kind != "team" else "use its id"
        raise LookupFailed(f"{len(matches)} {kind}s are named {name!r}{where}: {teams}; {fix}")
    names = sorted({str(i.get("name")) for i in items})
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
    if close:
        hint = "did you mean " + " or ".join(repr(c) for c in close) + "?"
    else:
        hint = f"existing: {describe(_by_name(items))}"
    raise LookupFailed(f"no {kind} named {name!r}{where} on {known.client.base_url}; {hint}")


def _by_name(items: list[JSONObject]) -> list[Mapping[str, Any]]:
    return sorted(items, key=lambda i: str(i.get("name")))
