"""SQLite persistence of teams, escalation chains, integrations and their routes."""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, overload

from .tables import DEFAULT_ROUTING_TYPE, NAME_MAX_LENGTH

_T = TypeVar("_T")

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS teams (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS escalation_chains (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    team_id TEXT
);
CREATE TABLE IF NOT EXISTS integrations (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    type TEXT NOT NULL,
    -- OnCall's column is varchar: an over-long name fails in the database, as there.
    name TEXT NOT NULL CHECK (length(name) <= {NAME_MAX_LENGTH}),
    team_id TEXT,
    hidden INTEGER NOT NULL DEFAULT 0,
    deleted INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    data TEXT NOT NULL
);
-- Safety net for the uniqueness the API checks first.
CREATE UNIQUE INDEX IF NOT EXISTS integrations_team_name
    ON integrations (ifnull(team_id, ''), name) WHERE deleted = 0;
-- The organisation's label keys and values, as Grafana's label service names them:
-- one id per key name and one per value name of a key.
CREATE TABLE IF NOT EXISTS label_keys (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS label_values (
    id TEXT PRIMARY KEY,
    key_id TEXT NOT NULL REFERENCES label_keys (id),
    name TEXT NOT NULL,
    UNIQUE (key_id, name)
);
-- Routes (OnCall's channel filters), the default route of each integration among them.
-- Positions count within (integration, is_default), as OnCall orders them.
CREATE TABLE IF NOT EXISTS routes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    integration_id TEXT NOT NULL,
    is_default INTEGER NOT NULL DEFAULT 0,
    position INTEGER NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS routes_by_integration ON routes (integration_id, is_default, position);
-- grafana_alerting integrations whose service_name label is still to come, and when
-- they were created (wall-clock seconds, so that the wait survives a restart).
CREATE TABLE IF NOT EXISTS pending_service_labels (
    integration_id TEXT PRIMARY KEY,
    since REAL NOT NULL
);
"""


@dataclass
class IntegrationRecord:
    """One stored integration. `templates` and `route` hold only what was set."""

    id: str
    type: str
    name: str
    team_id: str | None
    created_at: float
    description_short: str | None = None
    link_token: str | None = None
    inbound_email: str | None = None
    # {"grouping_key": "...", "slack": {"title": "..."}}
    templates: dict[str, Any] = field(default_factory=dict)
    # The default route as the integration shows it, kept in the routes table:
    # {"id": "R...", "escalation_chain_id": ..., "backends": {"slack": {...}}}
    route: dict[str, Any] = field(default_factory=dict)
    # [{"key": {"id", "name"}, "value": {"id", "name"}}] in the order last written.
    labels: list[dict[str, Any]] = field(default_factory=list)
    dynamic_labels: list[dict[str, Any]] = field(default_factory=list)
    hidden: bool = False
    deleted: bool = False

    def data_json(self) -> str:
        return json.dumps(
            {
                "description_short": self.description_short,
                "link_token": self.link_token,
                "inbound_email": self.inbound_email,
                "templates": self.templates,
                "labels": self.labels,
                "dynamic_labels": self.dynamic_labels,
            }
        )


@dataclass
class RouteRecord:
    """One stored route. `backends` holds only what was set, as in `IntegrationRecord.route`."""

    id: str
    integration_id: str
    is_default: bool
    position: int
    routing_type: str = DEFAULT_ROUTING_TYPE
    routing_regex: str | None = None
    escalation_chain_id: str | None = None
    backends: dict[str, Any] = field(default_factory=dict)

    def data_json(self) -> str:
        return json.dumps(
            {
                "routing_type": self.routing_type,
                "routing_regex": self.routing_regex,
                "escalation_chain_id": self.escalation_chain_id,
                "backends": self.backends,
            }
        )

    def as_default_route(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "escalation_chain_id": self.escalation_chain_id,
            "backends": self.backends,
        }


def _route(row: sqlite3.Row) -> RouteRecord:
    data = json.loads(row["data"])
    return RouteRecord(
        id=row["id"],
        integration_id=row["integration_id"],
        is_default=bool(row["is_default"]),
        position=row["position"],
        routing_type=data.get("routing_type") or DEFAULT_ROUTING_TYPE,
        routing_regex=data.get("routing_regex"),
        escalation_chain_id=data.get("escalation_chain_id"),
        backends=data.get("backends") or {},
    )


def _default_route(integration_id: str, route: dict[str, Any]) -> RouteRecord:
    return RouteRecord(
        id=route["id"],
        integration_id=integration_id,
        is_default=True,
        position=0,
        escalation_chain_id=route.get("escalation_chain_id"),
        backends=route.get("backends") or {},
    )


# Integrations with their default route beside them.
_INTEGRATIONS = (
    "SELECT i.*, r.id AS route_id, r.data AS route_data FROM integrations i"
    " LEFT JOIN routes r ON r.integration_id = i.id AND r.is_default = 1"
)
# Routes whose integration is not deleted (hidden ones included, as OnCall's routes
# view filters on deleted_at only), in OnCall's order: by integration, the default
# route last, then by position.
_LIVE_ROUTES = (
    "SELECT r.* FROM routes r JOIN integrations i ON i.id = r.integration_id WHERE i.deleted = 0"
)
_ROUTE_ORDER = " ORDER BY i.seq, r.is_default, r.position, r.seq"


class _Decoded(Sequence[_T]):
    """Rows decoded as they are read: a page of a long list decodes only its own."""

    def __init__(self, rows: list[sqlite3.Row], decode: Callable[[sqlite3.Row], _T]) -> None:
        self._rows = rows
        self._decode = decode

    def __len__(self) -> int:
        return len(self._rows)

    @overload
    def __getitem__(self, index: int) -> _T: ...
    @overload
    def __getitem__(self, index: slice) -> list[_T]: ...
    def __getitem__(self, index: int | slice) -> _T | list[_T]:
        if isinstance(index, slice):
            return [self._decode(row) for row in self._rows[index]]
        return self._decode(self._rows[index])


def _record(row: sqlite3.Row) -> IntegrationRecord:
    data = json.loads(row["data"])
    if row["route_id"] is not None:
        route_data = json.loads(row["route_data"])
        route = {
            "id": row["route_id"],
            "escalation_chain_id": route_data.get("escalation_chain_id"),
            "backends": route_data.get("backends") or {},
        }
    else:
        route = data.get("route") or {}
    return IntegrationRecord(
        id=row["id"],
        type=row["type"],
        name=row["name"],
        team_id=row["team_id"],
        created_at=row["created_at"],
        description_short=data.get("description_short"),
        link_token=data.get("link_token"),
        inbound_email=data.get("inbound_email"),
        templates=data.get("templates") or {},
        route=route,
        labels=data.get("labels") or [],
        dynamic_labels=data.get("dynamic_labels") or [],
        hidden=bool(row["hidden"]),
        deleted=bool(row["deleted"]),
    )


class Store:
    """One connection shared by the server's threads, serialised by a lock."""

    def __init__(self, path: str | None = None) -> None:
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(
            path or ":memory:", check_same_thread=False, isolation_level=None
        )
        self._conn.row_factory = sqlite3.Row
        self._lock = threading.RLock()
        self._depth = 0
        with self._lock:
            self._conn.executescript(_SCHEMA)
            self._move_default_routes()

    def _move_default_routes(self) -> None:
        """Give a database of an earlier emulator, which kept each integration's default
        route inside the integration's row, one row per default route."""
        with self.transaction():
            rows = self._query(
                "SELECT i.id, i.data FROM integrations i WHERE NOT EXISTS"
                " (SELECT 1 FROM routes r WHERE r.integration_id = i.id AND r.is_default = 1)"
            )
            for row in rows:
                route = json.loads(row["data"]).get("route") or {}
                if not route.get("id"):
                    continue
                self.insert_route(_default_route(row["id"], route))

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Hold the lock and a write transaction; roll back if the block raises.

        Validation runs inside it, so a check and the write it guards are atomic.
        """
        with self._lock:
            outer = self._depth == 0
            if outer:
                self._conn.execute("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield
            except BaseException:
                self._depth -= 1
                if outer:
                    self._conn.execute("ROLLBACK")
                raise
            self._depth -= 1
            if outer:
                self._conn.execute("COMMIT")

    def _query(self, sql: str, args: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._conn.execute(sql, args).fetchall()

    def _execute(self, sql: str, args: tuple[Any, ...] = ()) -> int:
        with self._lock:
            return self._conn.execute(sql, args).rowcount

    # Teams and escalation chains

    def put_team(self, team_id: str, name: str) -> dict[str, Any]:
        self._execute(
            "INSERT INTO teams (id, name) VALUES (?, ?)"
            " ON CONFLICT(id) DO UPDATE SET name = excluded.name",
            (team_id, name),
        )
        return {"id": team_id, "name": name}

    def get_team(self, team_id: str) -> dict[str, Any] | None:
        rows = self._query("SELECT id, name FROM teams WHERE id = ?", (team_id,))
        return dict(rows[0]) if rows else None

    def list_teams(self, name: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT id, name FROM teams"
        args: tuple[Any, ...] = ()
        if name is not None:
            sql, args = sql + " WHERE name = ?", (name,)
        return [dict(r) for r in self._query(sql + " ORDER BY seq", args)]

    def put_chain(self, chain_id: str, name: str, team_id: str | None) -> dict[str, Any]:
        self._execute(
            "INSERT INTO escalation_chains (id, name, team_id) VALUES (?, ?, ?)"
            " ON CONFLICT(id) DO UPDATE SET name = excluded.name, team_id = excluded.team_id",
            (chain_id, name, team_id),
        )
        return {"id": chain_id, "name": name, "team_id": team_id}

    def get_chain(self, chain_id: str) -> dict[str, Any] | None:
        rows = self._query(
            "SELECT id, name, team_id FROM escalation_chains WHERE id = ?", (chain_id,)
        )
        return dict(rows[0]) if rows else None

    def list_chains(self, name: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT id, name, team_id FROM escalation_chains"
        args: tuple[Any, ...] = ()
        if name is not None:
            sql, args = sql + " WHERE name = ?", (name,)
        return [dict(r) for r in self._query(sql + " ORDER BY seq", args)]

    # Integrations

    def insert_integration(self, rec: IntegrationRecord) -> None:
        """The integration and its default route (`rec.route`)."""
        self._execute(
            "INSERT INTO integrations (id, type, name, team_id, hidden, deleted, created_at, data)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                rec.id,
                rec.type,
                rec.name,
                rec.team_id,
                int(rec.hidden),
                int(rec.deleted),
                rec.created_at,
                rec.data_json(),
            ),
        )
        self.insert_route(_default_route(rec.id, rec.route))

    def update_integration(self, rec: IntegrationRecord) -> None:
        """The integration, and what it shows of its default route."""
        self._execute(
            "UPDATE integrations SET name = ?, team_id = ?, data = ? WHERE id = ?",
            (rec.name, rec.team_id, rec.data_json(), rec.id),
        )
        rows = self._query("SELECT * FROM routes WHERE id = ?", (rec.route["id"],))
        route = _route(rows[0])
        route.escalation_chain_id = rec.route.get("escalation_chain_id")
        route.backends = rec.route.get("backends") or {}
        self.update_route(route)

    def delete_integration(self, integration_id: str) -> bool:
        """Soft delete: the row stays, flagged, as OnCall keeps it (its routes with it)."""
        return (
            self._execute(
                "UPDATE integrations SET deleted = 1 WHERE id = ? AND deleted = 0",
                (integration_id,),
            )
            > 0
        )

    def get_integration(self, integration_id: str) -> IntegrationRecord | None:
        """A live, visible integration."""
        rows = self._query(
            _INTEGRATIONS + " WHERE i.id = ? AND i.deleted = 0 AND i.hidden = 0",
            (integration_id,),
        )
        return _record(rows[0]) if rows else None

    def list_integrations(self, name: str | None = None) -> Sequence[IntegrationRecord]:
        """Live, visible integrations in creation order."""
        sql = _INTEGRATIONS + " WHERE i.deleted = 0 AND i.hidden = 0"
        args: tuple[Any, ...] = ()
        if name is not None:
            sql, args = sql + " AND i.name = ?", (name,)
        return _Decoded(self._query(sql + " ORDER BY i.seq", args), _record)

    def all_integrations(self, include_deleted: bool = False) -> list[IntegrationRecord]:
        sql = _INTEGRATIONS
        if not include_deleted:
            sql += " WHERE i.deleted = 0"
        return [_record(r) for r in self._query(sql + " ORDER BY i.seq")]

    def name_taken(self, team_id: str | None, name: str, exclude_id: str | None = None) -> bool:
        rows = self._query(
            "SELECT 1 FROM integrations WHERE deleted = 0 AND name = ?"
            " AND ifnull(team_id, '') = ifnull(?, '') AND id != ifnull(?, '')",
            (name, team_id, exclude_id),
        )
        return bool(rows)

    def id_taken(self, integration_id: str) -> bool:
        return bool(self._query("SELECT 1 FROM integrations WHERE id = ?", (integration_id,)))

    def direct_paging_taken(self, team_id: str | None, exclude_id: str | None = None) -> bool:
        rows = self._query(
            "SELECT 1 FROM integrations WHERE deleted = 0 AND type = 'direct_paging'"
            " AND ifnull(team_id, '') = ifnull(?, '') AND id != ifnull(?, '')",
            (team_id, exclude_id),
        )
        return bool(rows)

    # Routes

    def insert_route(self, route: RouteRecord) -> None:
        self._execute(
            "INSERT INTO routes (id, integration_id, is_default, position, data)"
            " VALUES (?, ?, ?, ?, ?)",
            (
                route.id,
                route.integration_id,
                int(route.is_default),
                route.position,
                route.data_json(),
            ),
        )

    def update_route(self, route: RouteRecord) -> None:
        self._execute(
            "UPDATE routes SET position = ?, data = ? WHERE id = ?",
            (route.position, route.data_json(), route.id),
        )

    def delete_route(self, route_id: str) -> None:
        """A hard delete, as OnCall's: the positions of the others stay as they are."""
        self._execute("DELETE FROM routes WHERE id = ?", (route_id,))

    def get_route(self, route_id: str) -> RouteRecord | None:
        """A route of an integration that is not deleted."""
        rows = self._query(_LIVE_ROUTES + " AND r.id = ?", (route_id,))
        return _route(rows[0]) if rows else None

    def list_routes(
        self, integration_id: str | None = None, routing_regex: str | None = None
    ) -> Sequence[RouteRecord]:
        where, args = "", []
        if integration_id is not None:
            where += " AND r.integration_id = ?"
            args.append(integration_id)
        if routing_regex is not None:
            where += " AND json_extract(r.data, '$.routing_regex') = ?"
            args.append(routing_regex)
        return _Decoded(self._query(_LIVE_ROUTES + where + _ROUTE_ORDER, tuple(args)), _route)

    def route_group(self, integration_id: str, is_default: bool) -> list[RouteRecord]:
        """The routes that share one ordering: an integration's normal ones, or its default."""
        rows = self._query(
            "SELECT * FROM routes WHERE integration_id = ? AND is_default = ?"
            " ORDER BY position, seq",
            (integration_id, int(is_default)),
        )
        return [_route(r) for r in rows]

    def route_id_taken(self, route_id: str) -> bool:
        return bool(self._query("SELECT 1 FROM routes WHERE id = ?", (route_id,)))

    # The service_name label that Grafana Cloud adds after a while

    def add_pending_label(self, integration_id: str, since: float) -> None:
        self._execute(
            "INSERT OR REPLACE INTO pending_service_labels (integration_id, since) VALUES (?, ?)",
            (integration_id, since),
        )

    def take_due_labels(self, until: float) -> list[str]:
        """The integrations whose label was scheduled at `until` or before, forgotten as
        pending."""
        rows = self._query(
            "SELECT integration_id FROM pending_service_labels WHERE since <= ? ORDER BY since",
            (until,),
        )
        self._execute("DELETE FROM pending_service_labels WHERE since <= ?", (until,))
        return [str(r["integration_id"]) for r in rows]

    def has_pending_labels(self) -> bool:
        return bool(self._query("SELECT 1 FROM pending_service_labels LIMIT 1"))

    # Labels

    def label_key_id(self, name: str) -> str:
        """The id of a label key, created on first use."""
        with self._lock:
            rows = self._query("SELECT id FROM label_keys WHERE name = ?", (name,))
            if rows:
                return str(rows[0]["id"])
            key_id = str(uuid.uuid4())
            self._execute("INSERT INTO label_keys (id, name) VALUES (?, ?)", (key_id, name))
            return key_id

    def label_value_id(self, key_id: str, name: str) -> str:
        """The id of a value of a label key, created on first use."""
        with self._lock:
            rows = self._query(
                "SELECT id FROM label_values WHERE key_id = ? AND name = ?", (key_id, name)
            )
            if rows:
                return str(rows[0]["id"])
            value_id = str(uuid.uuid4())
            self._execute(
                "INSERT INTO label_values (id, key_id, name) VALUES (?, ?, ?)",
                (value_id, key_id, name),
            )
            return value_id

    def wipe_integrations(self) -> None:
        self._execute("DELETE FROM integrations")
        self._execute("DELETE FROM routes")
        self._execute("DELETE FROM pending_service_labels")
