"""A connection: one configured OnCall, and everything this process holds for it.

A `Connection` is its settings, its `OnCallClient` (pooled, with its own retries
and throttle, so a 429 from one OnCall never pauses another), the lists of its
teams and escalation chains, and its integration and route reads (`catalog.IntegrationReads`,
`catalog.RouteReads`).
The provider, the lookups, `program_checks` and `export` all reach OnCall through
one.

Lifetime: one connection per process and settings, from `connect`. Settings are
hashable and compare by value, the token and the names of their config keys
included, so a changed token (a rotation) is a new connection with a new client and
nothing learnt yet, and two named connections to one OnCall are two connections. A
connection lives as long as its process (a provider process lives one engine run);
one whose client was closed is replaced on the next `connect`. Within it, the lists
of teams, escalation chains, integrations and routes expire after a minute
(`catalog.Listed`, `catalog.IntegrationReads`).

The words of errors that name a setting, its config key or `pulumi config set` are
written here (`Hints`): the client knows HTTP only.
"""

from __future__ import annotations

import json
import os
import ssl
import threading
from collections.abc import Mapping
from typing import Any

from . import _config as config
from ._catalog import IntegrationReads, Listed, RouteReads
from ._client import OnCallClient
from ._config import ConfigKeys, Settings
from ._exceptions import (
    AuthError,
    ConfigurationError,
    NotOnCallAPIError,
    OnCallError,
    OutcomeUnknownError,
    ThrottledError,
    TLSError,
    TransportError,
)


class Connection:
    """One configured OnCall. Make them with `connect`, which shares them."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.client = OnCallClient(
            settings.api_root,
            settings.token,
            grafana_url=settings.grafana_url,
            retry=settings.retry,
            # A context, not a path: httpx deprecates paths, and this loads the file once.
            verify=ssl.create_default_context(cafile=settings.ca_bundle)
            if settings.ca_bundle
            else True,
            advice=Hints(settings.keys),
        )
        self.teams = Listed(self.client.list_teams)
        self.escalation_chains = Listed(self.client.list_escalation_chains)
        self.integrations = IntegrationReads(self.client)
        self.routes = RouteReads(self.client)
        # One integration's body tells what this server supports (Cloud-only blocks).
        self.sample = Listed(lambda: self.client.integrations_page(1, 1).get("results") or [])

    def __repr__(self) -> str:
        return f"Connection({self.settings!r})"


_connections: dict[Settings, Connection] = {}
_connections_lock = threading.Lock()


def connect(settings: Settings) -> Connection:
    """The process's connection for `settings`, made on first use."""
    with _connections_lock:
        found = _connections.get(settings)
        if found is None or found.client.closed:
            found = _connections[settings] = Connection(settings)
        return found


# What names a connection: None for the default one, a name of `oncall:connections`,
# or the resolved values of a `pulumi_oncall.Connection` (config.DECLARED_FIELDS).
Named = str | Mapping[str, Any] | None


def from_program(name: Named = None) -> Connection:
    """Connection `name` (None: the default) of the running program's stack config,
    or of a declared connection's resolved values."""
    from pulumi.runtime.config import get_config

    if isinstance(name, Mapping):
        return connect(config.declared(name, get_config))
    return connect(config.load(get_config, os.environ, name))


class Configuration:
    """The connections one configuration names: the default one and those of
    `oncall:connections`, as a provider's `configure` gives them.

    The settings of each name are resolved once, a ConfigurationError too, so that
    every operation until the next configuration sees the same answer.
    """

    def __init__(self, get: config.Getter, env: Mapping[str, str]) -> None:
        self.get = get
        self.env = dict(env)
        self._settings: dict[Any, Settings | ConfigurationError] = {}
        self._lock = threading.Lock()

    def settings(self, name: Named) -> Settings:
        """The settings of connection `name` (None: the default; a mapping: a declared
        connection's values), or ConfigurationError."""
        key: Any = name
        if isinstance(name, Mapping):
            key = ("declared", json.dumps(dict(name), sort_keys=True, default=repr))
        with self._lock:
            found = self._settings.get(key)
            if found is None:
                try:
                    if isinstance(name, Mapping):
                        found = config.declared(name, self.get)
                    else:
                        found = config.load(self.get, self.env, name)
                except ConfigurationError as exc:
                    found = exc
                self._settings[key] = found
        if isinstance(found, ConfigurationError):
            raise found
        return found

    def connection(self, name: Named) -> Connection:
        return connect(self.settings(name))


class Hints:
    """What an error of the client tells the user to fix, naming the settings by `keys`."""

    def __init__(self, keys: ConfigKeys) -> None:
        self.keys = keys

    def __call__(self, exc: OnCallError) -> str:
        if isinstance(exc, AuthError):
            return self._auth(exc)
        if isinstance(exc, ThrottledError):
            return self._throttled(exc)
        if isinstance(exc, NotOnCallAPIError):
            return (
                f"Set {self.keys.url} to the OnCall API root, e.g. https://oncall.example.com "
                "(the Grafana UI URL will not do)"
            )
        if isinstance(exc, TLSError):
            return (
                f"check the certificate of {self.keys.url}; if a private or company CA "
                f"signed it, {self.keys.how_to_set('ca_bundle', '/path/to/ca.pem')} "
                "(a PEM file of that CA's certificates)"
            )
        if isinstance(exc, TransportError) and not exc.request_sent:
            return f"check {self.keys.url} and that OnCall is reachable"
        if isinstance(exc, OutcomeUnknownError):
            return (
                "Run `pulumi up` again: if it was created, the rerun fails naming its id, and "
                "import_id='<that id>' on the resource adopts it; nothing is ever duplicated"
            )
        return ""

    def _auth(self, exc: AuthError) -> str:
        keys = self.keys
        lowered = "; ".join(exc.errors).lower()
        if "organization not found" in lowered:
            if not exc.grafana_url:
                return (
                    "a Grafana service-account token needs the URL of its stack: "
                    + keys.how_to_set("grafana_url", "https://mystack.grafana.net")
                )
            return (
                f"OnCall knows no organisation at the Grafana URL {exc.grafana_url}: "
                f"check {keys.name('grafana_url')}"
            )
        if "token" in lowered:
            if exc.service_account:
                return (
                    f"Grafana rejected the service-account token: check {keys.name('token')} "
                    f"(the raw glsa_ token, without 'Bearer') and that it belongs to the "
                    f"stack at {exc.grafana_url}"
                )
            return f"check {keys.name('token')} (the raw API token, without 'Bearer')"
        access = "read" if exc.method in ("GET", "HEAD") else "write"
        resource = exc.resource.replace("_", "-") or "integrations"
        if resource in ("integrations", "escalation-chains"):
            needs = (
                f"the permission grafana-oncall-app.{resource}:{access} "
                f"(grafana-irm-app.{resource}:{access} on Grafana Cloud IRM)"
            )
        else:
            needs = f"the permission to {access} {resource}"
        if exc.service_account:
            return f"the service account lacks {needs}"
        return f"the token lacks {needs}; for an OnCall API key, its user needs the Admin role"

    def _throttled(self, exc: ThrottledError) -> str:
        if "being synced" not in "; ".join(exc.errors).lower():
            return ""
        return (
            f"If this persists, the Grafana URL {exc.grafana_url} is probably wrong: "
            "OnCall answers so for a stack it does not know; check "
            f"{self.keys.name('grafana_url')}"
        )
