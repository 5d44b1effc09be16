"""The emulator's configuration and the mutable state its requests share."""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from .faults import FaultInjector, FaultSettings, RateLimiter
from .flavours import FLAVOURS
from .integrations import Context
from .store import Store

ADMIN_USER = "admin"
VIEWER_USER = "viewer"

# Bounds the request log of a long-running emulator.
REQUEST_LOG_LIMIT = 100_000


@dataclass(frozen=True)
class User:
    name: str
    can_write: bool


@dataclass
class EmulatorConfig:
    admin_tokens: tuple[str, ...]
    viewer_tokens: tuple[str, ...] = ()
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
    # {"teams": [{"id", "name"}], "escalation_chains": [{"id", "name", "team_id"}]}
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
        admin, viewer = User(ADMIN_USER, True), User(VIEWER_USER, False)
        self._users: dict[str, User] = {t: viewer for t in config.viewer_tokens}
        self._users.update({t: admin for t in config.admin_tokens})
        if config.seed:
            self.apply_seed(config.seed)

    def user_for(self, token: str | None) -> User | None:
        return self._users.get(token) if token else None

    def context(self) -> Context:
        return Context(
            store=self.store,
            flavour=self.flavour,
            public_url=self.public_url,
            slack_connected=self.slack_connected,
            grafana_reachable=self.grafana_reachable,
        )

    def apply_seed(self, seed: dict[str, Any]) -> None:
        with self.store.transaction():
            for team in seed.get("teams", []):
                self.store.put_team(team["id"], team["name"])
            for chain in seed.get("escalation_chains", []):
                self.store.put_chain(chain["id"], chain["name"], chain.get("team_id"))

    def reset(self) -> None:
        """Wipe integrations, the request log and the rate windows; keep teams and chains."""
        with self.store.transaction():
            self.store.wipe_integrations()
        self.log.clear()
        self.limiter.reset()
