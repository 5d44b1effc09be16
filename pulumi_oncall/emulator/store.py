"""SQLite persistence of teams, escalation chains and integrations."""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_SCHEMA = """
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
    -- OnCall's column is varchar(150): an over-long name fails in the database, as there.
    name TEXT NOT NULL CHECK (length(name) <= 150),
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
                "route": self.route,
                "labels": self.labels,
                "dynamic_labels": self.dynamic_labels,
            }
        )


def _record(row: sqlite3.Row) -> IntegrationRecord:
    data = json.loads(row["data"])
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
        route=data.get("route") or {},
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

    def update_integration(self, rec: IntegrationRecord) -> None:
        self._execute(
            "UPDATE integrations SET name = ?, team_id = ?, data = ? WHERE id = ?",
            (rec.name, rec.team_id, rec.data_json(), rec.id),
        )

    def delete_integration(self, integration_id: str) -> bool:
        """Soft delete: the row stays, flagged, as OnCall keeps it."""
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
            "SELECT * FROM integrations WHERE id = ? AND deleted = 0 AND hidden = 0",
            (integration_id,),
        )
        return _record(rows[0]) if rows else None

    def list_integrations(self, name: str | None = None) -> list[IntegrationRecord]:
        """Live, visible integrations in creation order."""
        sql = "SELECT * FROM integrations WHERE deleted = 0 AND hidden = 0"
        args: tuple[Any, ...] = ()
        if name is not None:
            sql, args = sql + " AND name = ?", (name,)
        return [_record(r) for r in self._query(sql + " ORDER BY seq", args)]

    def all_integrations(self, include_deleted: bool = False) -> list[IntegrationRecord]:
        sql = "SELECT * FROM integrations"
        if not include_deleted:
            sql += " WHERE deleted = 0"
        return [_record(r) for r in self._query(sql + " ORDER BY seq")]

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
