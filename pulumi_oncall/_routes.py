"""An integration's ordered routes: declared as one list, reconciled with the fewest writes.

OnCall keeps the normal routes of an integration in positions that insert-and-shift
and are never compacted: `POST` with a position inserts there and shifts the holder
and everything after it; `PUT {"position": p}` moves a route, shifting the routes
between; a delete leaves a gap. The default route has an ordering group of its own
and is always tried last; it is `default_route`'s, never this module's.

`plan` turns the routes on the server and the declared list into writes:

- Declared routes are matched to the server's by `name` (through the ids the state
  recorded for the names), then by content, then the leftovers pair up in order, so
  that inserting, removing, editing or reordering one route touches only that one.
- Creates and updates come first, in the declared order, each placed right after
  its predecessor; deletes come last. During an apply an alert sees the old order or
  the new one, never a kept route missing.
- Kept routes that are already in order (the longest run of them, as the server
  holds them) do not move: reversing four routes takes three moves.
- A chain cannot be cleared in place (the API refuses `escalation_chain_id: null` on
  update), so such a route is replaced: a copy without the chain is created where it
  stands, then the old one is deleted.

Positions are computed on a local copy of the server's ordering, with its rules, so
every position sent is one the server holds or one past its end.
"""

from __future__ import annotations

import bisect
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

# What a route is, besides its backends.
CORE = ("routing_regex", "routing_type", "escalation_chain_id")
ROUTING_TYPES = ("regex", "jinja2")
DEFAULT_ROUTING_TYPE = "regex"
REGEX_MAX_LENGTH = 1024

Route = dict[str, Any]


@dataclass(frozen=True)
class Write:
    """One request of a plan."""

    method: Literal["POST", "PUT", "DELETE"]
    index: int | None
    """The declared route it serves (`routes[index]`), None for a delete."""
    route_id: str | None = None
    """The route written (PUT, DELETE); None for a POST."""
    body: Route = field(default_factory=dict)


def declared_fields(route: Mapping[str, Any]) -> Route:
    """A declared route as the server would store it: `name` kept, the regex trimmed,
    and None (not declared) left out; a declared empty chain is None."""
    out: Route = {}
    for key, value in route.items():
        if value is None:
            continue
        if key == "routing_regex" and isinstance(value, str):
            value = value.strip()
        if key == "escalation_chain_id" and value == "":
            value = None
        if isinstance(value, Mapping):
            value = {k: v for k, v in value.items() if v is not None}
        out[key] = value
    return out


def project(remote: Mapping[str, Any], shape: Mapping[str, Any]) -> Route:
    """The server's route in the shape of `shape` (a declaration or a state entry): its
    `id`, the declared `name`, and the server's values of the fields `shape` holds."""
    out: Route = {"id": remote.get("id")}
    if shape.get("name") is not None:
        out["name"] = shape["name"]
    for key, value in shape.items():
        if key in ("id", "name"):
            continue
        have = remote.get(key)
        if key == "routing_type":
            have = have or DEFAULT_ROUTING_TYPE
        if isinstance(value, Mapping):
            block = have if isinstance(have, Mapping) else {}
            have = {k: block.get(k) for k in value}
        out[key] = have
    return out


def undeclared_shape(remote: Mapping[str, Any]) -> Route:
    """How a route nobody declared shows in the state: what it is, without backends."""
    return {key: remote.get(key) for key in CORE}


def state_entries(
    remote: Sequence[Mapping[str, Any]], previous: Sequence[Mapping[str, Any]]
) -> list[Route]:
    """The server's normal routes in order, as the state keeps them (see `project`)."""
    shapes = {str(p.get("id")): p for p in previous}
    ordered = sorted(remote, key=lambda r: int(r.get("position") or 0))
    return [project(r, shapes.get(str(r.get("id"))) or undeclared_shape(r)) for r in ordered]


def differs(
    state: Sequence[Mapping[str, Any]] | None, declared: Sequence[Mapping[str, Any]] | None
) -> bool:
    """Whether the state's routes are not the declared ones (ids aside)."""
    if state is None and declared is None:
        return False
    # The engine drops None values from the state: compare without them.
    old = [_without_nulls({k: v for k, v in r.items() if k != "id"}) for r in state or []]
    new = [_without_nulls(declared_fields(r)) for r in declared or []]
    return old != new


def _without_nulls(route: Mapping[str, Any]) -> Route:
    out: Route = {}
    for key, value in route.items():
        if isinstance(value, Mapping):
            value = {k: v for k, v in value.items() if v is not None}
        if value is not None:
            out[key] = value
    return out


def same(remote: Mapping[str, Any], declared: Mapping[str, Any]) -> bool:
    """Whether the server's route is what `declared` says (only what it declares)."""
    return not _changes(remote, declared)


@dataclass
class _Order:
    """The server's positions of one integration's normal routes, simulated."""

    positions: dict[str, int]

    @classmethod
    def of(cls, remote: Sequence[Mapping[str, Any]]) -> _Order:
        return cls({str(r["id"]): int(r.get("position") or 0) for r in remote})

    def ids(self) -> list[str]:
        return sorted(self.positions, key=lambda i: self.positions[i])

    def insert(self, route_id: str, position: int) -> None:
        for other, at in self.positions.items():
            if at >= position:
                self.positions[other] = at + 1
        self.positions[route_id] = position

    def append_position(self) -> int:
        return max(self.positions.values(), default=-1) + 1

    def move(self, route_id: str, position: int) -> None:
        old = self.positions[route_id]
        for other, at in self.positions.items():
            if other == route_id:
                continue
            if position < old and position <= at < old:
                self.positions[other] = at + 1
            elif position > old and old < at <= position:
                self.positions[other] = at - 1
        self.positions[route_id] = position

    def remove(self, route_id: str) -> None:
        self.positions.pop(route_id, None)

    def after(self, route_id: str | None) -> int:
        """The position that puts a route right after `route_id` (None: at the front)."""
        if route_id is None:
            ids = self.ids()
            return self.positions[ids[0]] if ids else 0
        return self.positions[route_id] + 1


def match(
    remote: Sequence[Mapping[str, Any]],
    declared: Sequence[Mapping[str, Any]],
    named_ids: Mapping[str, str],
) -> list[str | None]:
    """For each declared route, the id of the server route it becomes (None: new)."""
    by_id = {str(r["id"]): r for r in remote}
    taken: set[str] = set()
    result: list[str | None] = [None] * len(declared)
    for i, route in enumerate(declared):
        found = named_ids.get(route.get("name") or "")
        if found in by_id and found not in taken:
            result[i] = found
            taken.add(found)
    for i, route in enumerate(declared):
        if result[i] is not None:
            continue
        for candidate in remote:
            rid = str(candidate["id"])
            if rid not in taken and same(candidate, route):
                result[i] = rid
                taken.add(rid)
                break
    # What is left pairs up in order: an edited route keeps its id.
    left = [str(r["id"]) for r in remote if str(r["id"]) not in taken]
    for i in range(len(declared)):
        if result[i] is None and left:
            result[i] = left.pop(0)
    return result


def _longest_increasing(values: Sequence[int]) -> set[int]:
    """Indexes of one longest strictly increasing subsequence of `values`."""
    tails: list[int] = []
    tail_index: list[int] = []
    previous: list[int] = [-1] * len(values)
    for i, value in enumerate(values):
        at = bisect.bisect_left(tails, value)
        if at == len(tails):
            tails.append(value)
            tail_index.append(i)
        else:
            tails[at] = value
            tail_index[at] = i
        previous[i] = tail_index[at - 1] if at else -1
    keep: set[int] = set()
    i = tail_index[-1] if tail_index else -1
    while i >= 0:
        keep.add(i)
        i = previous[i]
    return keep


def body(route: Mapping[str, Any], *, for_create: bool) -> Route:
    """The request body of a declared route (`name` is ours, never sent)."""
    out: Route = {k: v for k, v in declared_fields(route).items() if k != "name"}
    if "routing_regex" in out:
        # The server validates a regex sent alone as a regex, and answers 500 to a
        # routing_type sent alone: the two always travel together.
        out.setdefault("routing_type", route.get("routing_type") or DEFAULT_ROUTING_TYPE)
    if for_create:
        out.setdefault("escalation_chain_id", None)  # the API requires the key
    return out


def _changes(remote: Mapping[str, Any], route: Mapping[str, Any]) -> Route:
    """The fields of `route` that differ on `remote`, routing_type and regex together."""
    wanted = body(route, for_create=False)
    changed: Route = {}
    for key, value in wanted.items():
        have = remote.get(key)
        if key == "routing_type":
            have = have or DEFAULT_ROUTING_TYPE
        if isinstance(value, Mapping) and isinstance(have, Mapping):
            if any(have.get(k) != v for k, v in value.items()):
                changed[key] = value
        elif have != value:
            changed[key] = value
    if "routing_regex" in changed or "routing_type" in changed:
        changed["routing_regex"] = wanted.get("routing_regex", remote.get("routing_regex"))
        changed["routing_type"] = wanted.get("routing_type", remote.get("routing_type"))
    return changed


def clears_chain(
    remote: Mapping[str, Any], route: Mapping[str, Any], previous: Mapping[str, Any] | None
) -> bool:
    """Whether `route` asks for no chain where `remote` has one and it is managed."""
    if remote.get("escalation_chain_id") is None:
        return False
    if "escalation_chain_id" in route:
        return route["escalation_chain_id"] in (None, "")
    # Left out after being declared: the chain goes, as any removed field does.
    return previous is not None and "escalation_chain_id" in previous


def plan(
    remote: Sequence[Mapping[str, Any]],
    declared: Sequence[Mapping[str, Any]],
    previous: Sequence[Mapping[str, Any]] = (),
) -> list[Write]:
    """The writes that turn `remote` (the server's normal routes) into `declared`.

    `previous` is the state's list (each entry with its `id` and, when given, `name`),
    which says which server route each name is and which fields were declared.
    """
    remote = sorted(remote, key=lambda r: int(r.get("position") or 0))
    named = _named(previous)
    before = {str(p.get("id")): p for p in previous}
    matched = match(remote, declared, named)
    by_id = {str(r["id"]): r for r in remote}
    order = _Order.of(remote)

    replaced = {
        rid
        for i, rid in enumerate(matched)
        if rid is not None and clears_chain(by_id[rid], declared[i], before.get(rid))
    }
    kept = [(i, rid) for i, rid in enumerate(matched) if rid is not None and rid not in replaced]
    in_order = _longest_increasing([order.positions[rid] for _, rid in kept])
    stays = {rid for n, (_, rid) in enumerate(kept) if n in in_order}

    writes: list[Write] = []
    predecessor: str | None = None
    for i, route in enumerate(declared):
        rid = matched[i]
        if rid is None or rid in replaced:
            position = order.after(predecessor)
            new_id = f"(new {i})"
            create = {**body(route, for_create=True), "position": position}
            writes.append(Write("POST", i, body=create))
            order.insert(new_id, position)
            predecessor = new_id
            continue
        changes = _changes(by_id[rid], route)
        if rid not in stays:
            position = order.after(predecessor)
            if position > order.positions[rid]:
                position -= 1  # moving back: the routes in between shift down first
            changes["position"] = position
            order.move(rid, position)
        if changes:
            writes.append(Write("PUT", i, rid, changes))
        predecessor = rid
    for route_id in [str(r["id"]) for r in remote]:
        if route_id not in stays and route_id not in {rid for _, rid in kept}:
            writes.append(Write("DELETE", None, route_id))
            order.remove(route_id)
    return writes


class RouteClient(Protocol):
    def list_routes(self, integration_id: str) -> list[dict[str, Any]]: ...
    def create_route(self, body: Route, known: Collection[str] = ()) -> dict[str, Any]: ...
    def update_route(self, route_id: str, body: Route) -> dict[str, Any]: ...
    def delete_route(self, route_id: str) -> None: ...


def normal(remote: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The routes `routes` manages: all but the integration's default route."""
    return [r for r in remote if not r.get("is_the_last_route")]


def apply(
    client: RouteClient,
    integration_id: str,
    declared: Sequence[Mapping[str, Any]],
    previous: Sequence[Mapping[str, Any]] = (),
    remote: Sequence[Mapping[str, Any]] | None = None,
) -> list[Route]:
    """Make the integration's routes the declared ones; the state's entries after it.

    `remote` is the server's list when the caller has it (a new integration has
    none), else it is listed. The writes go one after the other: each depends on the
    positions the one before left.
    """
    if remote is None:
        remote = client.list_routes(integration_id)
    remote = normal(remote)
    writes = plan(remote, declared, previous)
    stored: dict[int, Mapping[str, Any]] = {}
    by_id = {str(r["id"]): r for r in remote}
    for i, rid in enumerate(match(remote, declared, _named(previous))):
        if rid is not None:
            stored[i] = by_id[rid]
    known = set(by_id)
    for write in writes:
        if write.method == "POST":
            created = client.create_route({**write.body, "integration_id": integration_id}, known)
            known.add(str(created.get("id")))
            stored[write.index or 0] = created
        elif write.method == "PUT" and write.route_id is not None:
            stored[write.index or 0] = client.update_route(write.route_id, write.body)
        elif write.route_id is not None:
            client.delete_route(write.route_id)
    return [project(stored[i], declared_fields(route)) for i, route in enumerate(declared)]


def _named(previous: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    return {str(p["name"]): str(p["id"]) for p in previous if p.get("name") and p.get("id")}
