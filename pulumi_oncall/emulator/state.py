"""The emulator's configuration and the mutable state its requests share."""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from . import integrations
from .constants import SERVICE_ACCOUNT_PREFIX
from .errors import ApiError, detail
from .faults import FaultInjector, FaultSettings, RateLimiter
from .flavours import FLAVOURS
from .integrations import Context
from .store import Store

ADMIN_USER = "admin"
VIEWER_USER = "viewer"
SERVICE_ACCOUNT_USER = "service-account-{}"

INVALID_TOKEN = "Invalid token."
ORGANIZATION_NOT_FOUND = "Organization not found."
ORGANIZATION_SYNCING = "Organization being synced, please retry."
# What the server answers while it would sync an organisation it does not know yet.
SYNC_RETRY_SECONDS = 350

# Bounds the request log of a long-running emulator.
REQUEST_LOG_LIMIT = 100_000


@dataclass(frozen=True)
class User:
    name: str
    can_write: bool


class SeedError(ValueError):
    """The seed cannot be applied; the message says which entry and why."""


def is_http_url(text: str | None) -> bool:
    if not text:
        return False
    parts = urlsplit(text)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


@dataclass
class EmulatorConfig:
    admin_tokens: tuple[str, ...]
    viewer_tokens: tuple[str, ...] = ()
    # Grafana service-account tokens (glsa_...), of an editor and of a viewer.
    service_account_tokens: tuple[str, ...] = ()
    service_account_viewer_tokens: tuple[str, ...] = ()
    # The Grafana stack of the organisation, matched against X-Grafana-URL.
    grafana_url: str | None = None
    flavour: str = "oss"
    # None: http://HOST:PORT of the listening socket.
    public_url: str | None = None
    slack_connected: bool = False
    grafana_reachable: bool = False
    # None: admin endpoints are open.
    admin_secret: str | None = None
    faults: FaultSettings = field(default_factory=FaultSettings)
    fault_seed: int | None = None
    db: str | None = None
    # {"teams": [{"id", "name"}], "escalation_chains": [{"id", "name", "team_id"}],
    #  "integrations": [{"type", "name", ...}]}
    seed: dict[str, Any] | None = None
    access_log: bool = False


class RequestLog:
    def __init__(self) -> None:
        self._entries: deque[dict[str, Any]] = deque(maxlen=REQUEST_LOG_LIMIT)
        self._lock = threading.Lock()

    def add(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self._entries.append(entry)

    def entries(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


class EmulatorState:
    def __init__(self, config: EmulatorConfig, store: Store | None = None) -> None:
        if config.flavour not in FLAVOURS:
            raise ValueError(f"unknown flavour {config.flavour!r}")
        self.config = config
        self.flavour = FLAVOURS[config.flavour]
        self.store = store if store is not None else Store(config.db)
        self.faults = FaultInjector(config.faults, config.fault_seed)
        self.limiter = RateLimiter()
        self.log = RequestLog()
        self.public_url = (config.public_url or "").rstrip("/")
        self.slack_connected = config.slack_connected
        self.grafana_reachable = config.grafana_reachable
        self.grafana_url = (config.grafana_url or "").rstrip("/") or None
        admin, viewer = User(ADMIN_USER, True), User(VIEWER_USER, False)
        self._users: dict[str, User] = {t: viewer for t in config.viewer_tokens}
        self._users.update({t: admin for t in config.admin_tokens})
        # A user per service account, so each has a rate window of its own.
        self._service_accounts: dict[str, User] = {}
        for token, can_write in [
            *((t, True) for t in config.service_account_tokens),
            *((t, False) for t in config.service_account_viewer_tokens),
        ]:
            if token not in self._service_accounts:
                name = SERVICE_ACCOUNT_USER.format(len(self._service_accounts) + 1)
                self._service_accounts[token] = User(name, can_write)
        if config.seed:
            self.apply_seed(config.seed)

    def authenticate(self, token: str | None, grafana_url: str | None) -> User | ApiError:
        """The user of a request, or the error the server answers instead.

        A service-account token is checked the server's way: the stack named by
        X-Grafana-URL must be the organisation's, then Grafana must know the token.
        An OnCall API key ignores X-Grafana-URL.
        """
        if token and token.startswith(SERVICE_ACCOUNT_PREFIX):
            if grafana_url is None or not is_http_url(grafana_url):
                return detail(ORGANIZATION_NOT_FOUND, 403)
            if grafana_url.rstrip("/") != self.grafana_url:
                return ApiError(
                    429,
                    {"detail": ORGANIZATION_SYNCING},
                    headers={"RateLimit-Reset": str(SYNC_RETRY_SECONDS)},
                )
            user = self._service_accounts.get(token)
        else:
            user = self._users.get(token) if token else None
        return user if user is not None else detail(INVALID_TOKEN, 403)

    def context(self) -> Context:
        return Context(
            store=self.store,
            flavour=self.flavour,
            public_url=self.public_url,
            slack_connected=self.slack_connected,
            grafana_reachable=self.grafana_reachable,
        )

    def apply_seed(self, seed: dict[str, Any]) -> None:
        """Teams and chains (upserted), then integrations (those already stored are kept)."""
        with self.store.transaction():
            for team in seed.get("teams", []):
                self.store.put_team(team["id"], team["name"])
            for chain in seed.get("escalation_chains", []):
                self.store.put_chain(chain["id"], chain["name"], chain.get("team_id"))
            ctx = self.context()
            for n, body in enumerate(seed.get("integrations", [])):
                try:
                    integrations.seed(body, ctx, keep_existing=True)
                except ApiError as exc:
                    raise SeedError(f"seed integrations[{n}]: {json.dumps(exc.body)}") from exc

    def reset(self) -> None:
        """Wipe integrations, the request log and the rate windows; keep teams and chains."""
        with self.store.transaction():
            self.store.wipe_integrations()
        self.log.clear()
        self.limiter.reset()
