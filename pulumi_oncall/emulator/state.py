"""The emulator's configuration and the mutable state its requests share."""

from __future__ import annotations

import json
import math
import threading
import time
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

# When Grafana Cloud adds its service_name label to a new grafana_alerting integration:
# in the create itself, a little later (a background task, when the label key is not
# cached yet), or never (an organisation without labels).
SERVICE_LABEL_MODES = ("now", "later", "off")
DEFAULT_SERVICE_LABEL_DELAY = 2.0


@dataclass(frozen=True)
class User:
    name: str
    can_write: bool


class SeedError(ValueError):
    """The seed cannot be applied; the message says which entry and why."""


class SettingsError(ValueError):
    """A setting that the emulator cannot take; the message says why."""


def check_service_label(mode: str, delay: float, flavour: str) -> None:
    if mode not in SERVICE_LABEL_MODES:
        raise SettingsError(f"service_name_label must be one of {', '.join(SERVICE_LABEL_MODES)}")
    if mode != "off" and not FLAVOURS[flavour].labels:
        raise SettingsError("service_name_label needs labels: the cloud flavour")
    if not math.isfinite(delay) or delay < 0:
        raise SettingsError("service_name_label_delay must be a number of seconds >= 0")


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
    # now, later or off; None: now on the cloud flavour, off on oss.
    service_name_label: str | None = None
    # Seconds from the create until a `later` label appears.
    service_name_label_delay: float = DEFAULT_SERVICE_LABEL_DELAY
    # None: admin endpoints are open.
    admin_secret: str | None = None
    faults: FaultSettings = field(default_factory=FaultSettings)
    fault_seed: int | None = None
    db: str | None = None
    # {"teams": [{"id", "name"}], "escalation_chains": [{"id", "name", "team_id"}],
    #  "integrations": [{"type", "name", ...}]}
    seed: dict[str, Any] | None = None
    access_log: bool = False
    # PEM files of the certificate (its chain) and key to serve HTTPS with; None: HTTP.
    tls_cert: str | None = None
    tls_key: str | None = None


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
        # Checked before anything is opened.
        self.service_label = config.service_name_label or ("now" if self.flavour.labels else "off")
        self.service_label_delay = config.service_name_label_delay
        check_service_label(self.service_label, self.service_label_delay, self.flavour.name)
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
            service_label=self.service_label,
            service_label_delay=self.service_label_delay,
        )

    def settings_json(self) -> dict[str, Any]:
        return {
            "slack_connected": self.slack_connected,
            "grafana_reachable": self.grafana_reachable,
            "service_name_label": self.service_label,
            "service_name_label_delay": self.service_label_delay,
        }

    def update_settings(self, changes: dict[str, Any]) -> None:
        """Apply a partial update of the settings, all of it or, on an error, none."""
        unknown = set(changes) - set(self.settings_json())
        if unknown:
            raise SettingsError(f"unknown settings: {', '.join(sorted(unknown))}")
        for key in ("slack_connected", "grafana_reachable"):
            if key in changes and not isinstance(changes[key], bool):
                raise SettingsError(f"{key} must be a boolean")
        mode = changes.get("service_name_label", self.service_label)
        delay = changes.get("service_name_label_delay", self.service_label_delay)
        if not isinstance(mode, str):
            raise SettingsError("service_name_label must be a string")
        if isinstance(delay, bool) or not isinstance(delay, (int, float)):
            raise SettingsError("service_name_label_delay must be a number of seconds >= 0")
        check_service_label(mode, float(delay), self.flavour.name)
        self.slack_connected = changes.get("slack_connected", self.slack_connected)
        self.grafana_reachable = changes.get("grafana_reachable", self.grafana_reachable)
        self.service_label, self.service_label_delay = mode, float(delay)

    def apply_due_labels(self) -> None:
        """Add the service_name labels whose time has come (see integrations.create)."""
        if not self.store.has_pending_labels():
            return
        with self.store.transaction():
            integrations.add_due_service_labels(self.context(), time.time())

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
