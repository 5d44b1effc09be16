"""The desired spec and the API's JSON: validation, normalisation, payloads, diff.

A spec is handled as a flat map from a path (`("templates", "slack", "title")`) to a
value, holding only what the user declared. Comparing, clearing and reporting then
work the same way for every field. Labels are one leaf each kind (a mapping), since
the API only ever takes the whole set.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pulumi.runtime import rpc

from . import _schema as schema
from ._templating import compile_error

Path = tuple[str, ...]
Flat = dict[Path, Any]

# The engine's placeholder for a value not known until apply.
UNKNOWN: str = rpc.UNKNOWN

# Backends whose `enabled` default is documented; a removed flag is reset to it, and
# left as it is on the others.
ROUTE_ENABLED_DEFAULTS: dict[str, bool] = {
    path[1]: node.reset_to
    for path, node in schema.walk(schema.DEFAULT_ROUTE, ("default_route",))
    if node.reset_to is not None
}
# Relational ids where the server reads "" as null: "" declares "none".
EMPTY_ID_PATHS: frozenset[Path] = frozenset(
    path for path, node in schema.walk() if node.empty_is_none
)


# An OnCall id: ASCII letters and digits only, so that it is inert in a URL path.
ID_PATTERN = re.compile(r"[A-Za-z0-9]+")


def is_id(value: Any) -> bool:
    return isinstance(value, str) and ID_PATTERN.fullmatch(value) is not None


def kind_of(value: Any) -> str:
    """What a value is, for messages that must not repeat it (it may be a secret)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    return type(value).__name__


def _shown_kind(value: Any) -> str:
    return "an empty string" if value == "" else kind_of(value)


def _id_problem(value: str, example: str) -> str | None:
    if is_id(value):
        return None
    return (
        f"must be an OnCall id such as {example!r}: ASCII letters and digits only, and "
        "this one has other characters"
    )


def dotted(path: Path) -> str:
    return ".".join(path)


def is_unknown(value: Any) -> bool:
    if isinstance(value, str):
        return value == UNKNOWN
    if isinstance(value, Mapping):
        return any(is_unknown(k) or is_unknown(v) for k, v in value.items())
    return False


# -- validation ---------------------------------------------------------------


def _unknown_key(path: Path, key: str, known: Iterable[str]) -> tuple[str, str]:
    return (
        dotted((*path, key)),
        f"unknown key {key!r}; expected one of: {', '.join(known)} "
        "(the server would silently drop it)",
    )


def _validate_type(type_: Any, adopting: bool) -> list[tuple[str, str]]:
    if type_ is None or (isinstance(type_, str) and not type_.strip()):
        return [("type", 'type is required, e.g. type="alertmanager"')]
    if not isinstance(type_, str):
        return [("type", f"type must be a string, got {kind_of(type_)}")]
    if is_unknown(type_) or type_ in schema.KNOWN_TYPES:
        return []
    if type_ in schema.REFUSED_TYPES:
        unmanageable = schema.UNMANAGEABLE_TYPES.get(type_)
        if adopting and not unmanageable:
            return []  # an existing one can be adopted, though not created
        reason = f"type {type_!r} cannot be created through the API: {schema.REFUSED_TYPES[type_]}"
        if unmanageable:
            reason += f"; nor adopted with import_id: {unmanageable}"
        return [("type", reason)]
    close = difflib.get_close_matches(type_, schema.KNOWN_TYPES, n=1, cutoff=0.6)
    hint = (
        f"did you mean {close[0]!r}?"
        if close
        else "known types: " + ", ".join(sorted(schema.KNOWN_TYPES))
    )
    return [("type", f"unknown type {type_!r}; {hint}")]


def validate(inputs: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Problems with `inputs` as (property, reason) pairs, empty when valid.

    Values still unknown at preview pass: they are checked again before apply.
    """
    import_id = inputs.get("import_id")
    failures = _validate_type(inputs.get("type"), adopting=import_id is not None)
    for node in schema.FIELDS:
        if node.kind != "type" and node.role != "program":
            failures.extend(_validate(node, inputs.get(node.name), (node.name,)))
    failures.extend(_nul_problems(inputs))
    return failures


def _validate(node: schema.Node, value: Any, path: Path) -> list[tuple[str, str]]:
    """One field's problems; top-level reasons start with the field's name."""
    if value is None or (is_unknown(value) and not isinstance(value, Mapping)):
        return []
    where = dotted(path)
    lead = f"{where} " if len(path) == 1 else ""
    if node.kind == "object":
        return _validate_object(node, value, path)
    if node.kind == "list":
        return _validate_routes(node, value)
    if node.kind == "choice":
        if isinstance(value, str) and value in node.choices:
            return []
        return [(where, _choice_problem(node, value))]
    if node.kind == "mapping":
        return _validate_labels(node, value)
    if node.kind == "bool":
        ok = isinstance(value, bool)
        return [] if ok else [(where, f"{lead}must be true or false, got {kind_of(value)}")]
    if node.name == "connection":
        return _validate_connection(value)
    if not isinstance(value, str):
        if node.kind == "id":
            example = f"'{node.example[0]}...'" if node.example else "'...'"
            empty = ' (or "")' if node.empty_is_none else ""
            return [
                (where, f"{lead}must be a string id such as {example}{empty}, got {kind_of(value)}")
            ]
        return [(where, f"{lead}must be a string, got {kind_of(value)}")]
    if node.kind == "id":
        if not value and node.empty_is_none:
            return []
        problem = _id_problem(value, node.example)
        return [(where, f"{lead}{problem}")] if problem else []
    if node.kind == "template":
        error = compile_error(value)
        if error:
            return [(where, f"template does not compile ({error}); the server would refuse it")]
        return []
    if node.name == "name" and not value.strip():
        return [(where, "name must not be blank; omit it to use the resource name")]
    if node.max_length is not None and len(value.strip()) > node.max_length:
        return [
            (where, f"{where} is {len(value.strip())} characters; the limit is {node.max_length}")
        ]
    return []


def _validate_object(node: schema.Node, value: Any, path: Path) -> list[tuple[str, str]]:
    where = dotted(path)
    if not isinstance(value, Mapping):
        lead = f"{where} " if len(path) == 1 else ""
        return [(where, f"{lead}must be a mapping, got {type(value).__name__}")]
    failures: list[tuple[str, str]] = []
    for key, item in value.items():
        child = node.child(key)
        if child is None:
            failures.append(_unknown_key(path, key, node.keys))
        elif not (item is None or is_unknown(item)):
            failures.extend(_validate(child, item, (*path, key)))
    return failures


def _choice_problem(node: schema.Node, value: Any) -> str:
    choices = " or ".join(repr(c) for c in node.choices)
    if node.name == "routing_type" and value == "labels":
        return "'labels' routes exist in OnCall, but its public API refuses them; use " + choices
    shown = repr(value) if isinstance(value, str) and len(value) <= 40 else kind_of(value)
    return f"must be {choices}, got {shown}"


def _validate_routes(node: schema.Node, value: Any) -> list[tuple[str, str]]:
    """`routes`: a list of routes, each named `routes[i]` (and by its name) in reasons."""
    if isinstance(value, str) and is_unknown(value):
        return []
    if not isinstance(value, (list, tuple)):
        return [("routes", f"routes must be a list of routes, got {kind_of(value)}")]
    failures: list[tuple[str, str]] = []
    names: dict[str, int] = {}
    for i, route in enumerate(value):
        where = f"routes[{i}]"
        if isinstance(route, Mapping) and isinstance(route.get("name"), str):
            where += f" ({route['name']!r})"
            if route["name"] in names:
                failures.append(
                    (where, f"the name is also routes[{names[route['name']]}]'s; names are unique")
                )
            names.setdefault(route["name"], i)
        if is_unknown(route):
            continue
        if not isinstance(route, Mapping):
            failures.append((where, f"a route must be a mapping, got {kind_of(route)}"))
            continue
        regex = route.get("routing_regex")
        if regex is None:
            failures.append(
                (where, "routing_regex is required: the regex or Jinja2 template that picks alerts")
            )
        for key, item in route.items():
            child = node.child(key)
            if child is None:
                failures.append(_unknown_key((where,), key, node.keys))
            elif not (item is None or is_unknown(item)):
                failures += _validate(child, item, (where, key))
        failures += _routing_problems(where, route)
    return failures


def _routing_problems(where: str, route: Mapping[str, Any]) -> list[tuple[str, str]]:
    regex = route.get("routing_regex")
    kind = route.get("routing_type") or "regex"
    if not isinstance(regex, str) or is_unknown(regex) or is_unknown(kind):
        return []
    text = regex.strip()
    at = f"{where}.routing_regex"
    if not text:
        return [(at, "routing_regex must not be blank: the server refuses it")]
    if len(text) > schema.ROUTE_REGEX_MAX_LENGTH:
        return []  # said by the field's own check
    if kind == "jinja2":
        error = compile_error(text)
        if error:
            return [(at, f"Jinja2 route does not compile ({error}); the server would refuse it")]
    elif kind == "regex":
        try:
            re.compile(text)
        except re.error as exc:
            return [(at, f"the regex does not compile ({exc}); the server would refuse it")]
        except RecursionError:
            return [(at, "the regex nests too deeply to compile; the server would refuse it")]
    return []


def _validate_connection(value: Any) -> list[tuple[str, str]]:
    if isinstance(value, Mapping):
        # A `pulumi_oncall.Connection`'s values: the settings say what is wrong with them.
        return []
    if not isinstance(value, str) or not value.strip():
        return [
            (
                "connection",
                "connection must be the name of an entry of oncall:connections, such as "
                f"'staging', got {_shown_kind(value)}",
            )
        ]
    if value != value.strip():
        return [("connection", "connection has surrounding spaces; remove them")]
    return []


def _validate_labels(node: schema.Node, value: Any) -> list[tuple[str, str]]:
    key = node.name
    if isinstance(value, str) and is_unknown(value):
        return []
    if not isinstance(value, Mapping):
        kind = "a list" if isinstance(value, (list, tuple)) else type(value).__name__
        example = '{"env": "prod"}'
        return [(key, f"{key} must be a mapping of label key to value, e.g. {example}; got {kind}")]
    failures: list[tuple[str, str]] = []
    for name, item in value.items():
        if is_unknown(name) or is_unknown(item):
            continue
        if not isinstance(name, str) or not name.strip():
            failures.append((key, f"label keys must be non-empty strings, got {kind_of(name)}"))
        elif item is None or (isinstance(item, str) and not item.strip()):
            failures.append((f"{key}.{name}", "a label needs a non-empty value"))
        elif not isinstance(item, str):
            failures.append((f"{key}.{name}", f"must be a string, got {kind_of(item)}"))
        elif node.render_as is not None and (error := compile_error(item)):
            failures.append(
                (
                    f"{key}.{name}",
                    f"template does not compile ({error}); the server would refuse it",
                )
            )
    return failures


def _nul_problems(inputs: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Strings holding NUL, which OnCall refuses ("Null characters are not allowed.")."""
    found: list[tuple[str, str]] = []

    def walk(path: Path, value: Any) -> None:
        if isinstance(value, str):
            if "\x00" in value:
                found.append(
                    (dotted(path), "contains a NUL character (\\x00), which OnCall refuses")
                )
        elif isinstance(value, Mapping):
            for key, item in value.items():
                walk((*path, str(key)), key)
                walk((*path, str(key)), item)

    for key in schema.API_FIELDS:
        walk((key,), inputs.get(key))
    return list(dict.fromkeys(found))


def _trimmed(value: Any) -> Any:
    return value.strip() if isinstance(value, str) and not is_unknown(value) else value


def normalise(inputs: Mapping[str, Any]) -> dict[str, Any]:
    """The inputs as the server will store them, so stored values compare equal.

    The server trims the surrounding spaces of names, descriptions and label keys
    and values (not of templates, which it keeps as written).
    """
    out = dict(inputs)
    for node in schema.FIELDS:
        if node.trimmed and node.kind == "string":
            out[node.name] = _trimmed(out.get(node.name))
    for key in schema.MAPPING_FIELDS:
        labels = out.get(key)
        if isinstance(labels, Mapping):
            static = key == "labels"
            out[key] = {_trimmed(k): (_trimmed(v) if static else v) for k, v in labels.items()}
    return {k: v for k, v in out.items() if k in inputs}


# -- flat specs ---------------------------------------------------------------


def declared(spec: Mapping[str, Any]) -> Flat:
    """The API fields the user declared (None means not declared)."""
    flat: Flat = {}
    for node in schema.FIELDS:
        if node.role == "api":
            _flatten(node, spec.get(node.name), (node.name,), flat)
    return flat


def _flatten(node: schema.Node | None, value: Any, path: Path, flat: Flat) -> None:
    if value is None:
        return
    # A key the schema does not know (validation refuses it) is kept by its shape.
    nested = node.kind == "object" if node is not None else len(path) < 3
    if nested and isinstance(value, Mapping):
        for key, item in value.items():
            _flatten(node.child(key) if node is not None else None, item, (*path, key), flat)
    elif node is not None and node.kind == "mapping" and isinstance(value, Mapping):
        flat[path] = dict(value)
    else:
        flat[path] = value


def nest(flat: Mapping[Path, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for path, value in sorted(flat.items()):
        node = out
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return out


def labels_to_wire(labels: Mapping[str, str]) -> list[dict[str, Any]]:
    return [{"key": {"name": k}, "value": {"name": v}} for k, v in sorted(labels.items())]


def labels_from_wire(items: Any) -> dict[str, str]:
    """The label set of a response, as a mapping; malformed entries are skipped."""
    out: dict[str, str] = {}
    for item in items if isinstance(items, list) else []:
        key = item.get("key") if isinstance(item, Mapping) else None
        value = item.get("value") if isinstance(item, Mapping) else None
        if isinstance(key, Mapping) and isinstance(value, Mapping):
            out[str(key.get("name"))] = str(value.get("name"))
    return out


def lookup(remote: Mapping[str, Any], path: Path, declared_value: Any = None) -> Any:
    """What the server holds at `path`, in the form the spec declares it.

    Given the declared value, labels the server adds by itself are left out unless
    declared: they are the server's, not the user's.
    """
    if path[0] in schema.MAPPING_FIELDS:
        labels = labels_from_wire(remote.get(path[0]))
        if path[0] == "dynamic_labels" and isinstance(declared_value, Mapping):
            labels = {
                k: v
                for k, v in labels.items()
                if k in declared_value or k not in schema.SERVER_ADDED_DYNAMIC_LABELS
            }
        return labels
    node: Any = remote
    for part in path:
        if not isinstance(node, Mapping):
            node = None
            break
        node = node.get(part)
    if node is None and path in EMPTY_ID_PATHS:
        return ""
    return node


def stored(remote: Mapping[str, Any], spec: Flat) -> Flat:
    """What the server holds at each path of `spec`."""
    return {path: lookup(remote, path, value) for path, value in spec.items()}


def server_added_labels(remote: Mapping[str, Any], inputs: Mapping[str, Any]) -> dict[str, str]:
    """The server's own dynamic labels that `inputs` do not declare."""
    declared_labels = inputs.get("dynamic_labels") or {}
    return {
        k: v
        for k, v in labels_from_wire(remote.get("dynamic_labels")).items()
        if k in schema.SERVER_ADDED_DYNAMIC_LABELS and k not in declared_labels
    }


def keep_server_labels(
    payload: dict[str, Any], remote: Mapping[str, Any], inputs: Mapping[str, Any]
) -> dict[str, Any]:
    """`payload`, whose dynamic label set keeps the labels the server added itself."""
    if "dynamic_labels" not in payload:
        return payload
    extra = server_added_labels(remote, inputs)
    if not extra:
        return payload
    labels = {**extra, **labels_from_wire(payload["dynamic_labels"])}
    return {**payload, "dynamic_labels": labels_to_wire(labels)}


# -- payloads -----------------------------------------------------------------


def _wire(flat: Flat) -> dict[str, Any]:
    out: Flat = {}
    for path, value in flat.items():
        if path[0] in schema.MAPPING_FIELDS:
            value = labels_to_wire(value or {})
        elif path in EMPTY_ID_PATHS and value == "":
            value = None
        out[path] = value
    return nest(out)


def create_payload(inputs: Mapping[str, Any]) -> dict[str, Any]:
    return _wire(declared(inputs))


def update_payload(olds: Mapping[str, Any], news: Mapping[str, Any]) -> dict[str, Any]:
    """A PUT body that sets what changed and resets what was removed.

    PUT is a partial merge on the server, so a removed field must be sent as null.
    """
    old, new = declared(olds), declared(news)
    changes: Flat = {p: v for p, v in new.items() if old.get(p) != v}
    for path in old.keys() - new.keys():
        if path[0] in schema.MAPPING_FIELDS:
            changes[path] = {}  # the whole set goes: an empty list clears it
        elif path[-1] != "enabled":
            changes[path] = None
        elif path[1] in ROUTE_ENABLED_DEFAULTS:
            # The server may refuse a null flag; send its documented default instead.
            changes[path] = ROUTE_ENABLED_DEFAULTS[path[1]]
    changes.pop(("type",), None)
    return _wire(changes)


def adopt_payload(remote: Mapping[str, Any], inputs: Mapping[str, Any]) -> dict[str, Any]:
    """A PUT body that makes an existing integration what `inputs` declare, or {}."""
    changes = {p: v for p, v in declared(inputs).items() if lookup(remote, p, v) != v}
    changes.pop(("type",), None)
    return _wire(changes)


def fields_without_place(remote: Mapping[str, Any], inputs: Mapping[str, Any]) -> list[str]:
    """Declared fields that this server cannot store, judging by one of its bodies.

    Servers leave out of their bodies what they do not support (labels and msteams
    on the open-source engine), and drop such fields from requests silently.
    """
    return [
        _with_hint(path)
        for path, value in sorted(declared(inputs).items())
        # An empty label set stores nothing, on any server.
        if _absent(remote, path) and not (path[0] in schema.MAPPING_FIELDS and not value)
    ]


def _absent(remote: Mapping[str, Any], path: Path) -> bool:
    """Whether the server's body has no place at all for `path`."""
    if path[0] in schema.MAPPING_FIELDS:
        return path[0] not in remote
    group = schema.at(path[:2]) if len(path) == 3 else None
    if group is not None and group.kind == "object":
        section = remote.get(path[0])
        return not isinstance(section, Mapping) or path[1] not in section
    return False


def _with_hint(path: Path) -> str:
    if path[0] in schema.MAPPING_FIELDS:
        return f"{dotted(path)} (labels exist only on Grafana Cloud)"
    if path[0] == "templates" and path[1] in schema.CLOUD_ONLY_TEMPLATE_GROUPS:
        return f"{dotted(path)} (templates of this group exist only on Grafana Cloud)"
    if path[0] == "default_route" and path[1] in schema.CLOUD_ONLY_ROUTE_BACKENDS:
        return f"{dotted(path)} (this route backend exists only on Grafana Cloud)"
    return dotted(path)


def not_kept(inputs: Mapping[str, Any], remote: Mapping[str, Any]) -> list[str]:
    """Declared fields the server did not keep (it drops what it does not support)."""
    return [
        _with_hint(path)
        for path, value in declared(inputs).items()
        if lookup(remote, path, value) != value
    ]


def not_kept_reasons(inputs: Mapping[str, Any], remote: Mapping[str, Any]) -> list[str]:
    """`not_kept`, each with why: no place for it on this server, or another value kept."""
    return [
        _with_hint(path)
        if _absent(remote, path)
        else f"{dotted(path)} (it keeps another value than the declared one)"
        for path, value in declared(inputs).items()
        if lookup(remote, path, value) != value
    ]


# -- outputs and diff ---------------------------------------------------------


def outputs(remote: Mapping[str, Any], inputs: Mapping[str, Any]) -> dict[str, Any]:
    """Resource outputs: declared fields as the server stored them, plus read-only ones."""
    spec: dict[str, Any] = {key: None for key in schema.PROVIDER_FIELDS}
    spec.update(nest(stored(remote, declared(inputs))))
    for key in schema.PROVIDER_FIELDS:
        if key not in schema.API_FIELDS:
            spec[key] = inputs.get(key)
    for node in schema.OUTPUTS:
        spec[node.name] = _at(remote, node.source)
    return spec


def _at(body: Any, path: Path) -> Any:
    for part in path:
        body = body.get(part) if isinstance(body, Mapping) else None
    return body


def adoptable_spec(remote: Mapping[str, Any]) -> dict[str, Any]:
    """Every non-null field the server holds, as inputs: what an import declares."""
    flat: Flat = {}
    for node in schema.FIELDS:
        if node.role == "api":
            _adoptable(node, remote.get(node.name), (node.name,), flat)
    return nest(flat)


def _adoptable(node: schema.Node, value: Any, path: Path, flat: Flat) -> None:
    if node.kind == "mapping":
        labels = labels_from_wire(value)
        if labels:
            flat[path] = labels
    elif node.kind != "object":
        if value is not None:
            flat[path] = value
    elif isinstance(value, Mapping):
        if node.target is not None and value.get(node.target) is None:
            return  # a messaging backend that is not set up
        for child in node.children:
            item = value.get(child.name)
            if node.target is not None and child.kind == "bool" and item is None:
                item = True  # a backend's flag missing from a body counts as on
            _adoptable(child, item, (*path, child.name), flat)


@dataclass(frozen=True)
class Diff:
    changed: tuple[str, ...]
    replaces: tuple[str, ...]
    delete_before_replace: bool


def diff(olds: Mapping[str, Any], news: Mapping[str, Any]) -> Diff:
    """Compare the declared API fields of the state (`olds`) with the program's (`news`)."""
    old, new = declared(olds), declared(news)
    changed = sorted(
        dotted(p)
        for p in old.keys() | new.keys()
        if is_unknown(new.get(p)) or old.get(p) != new.get(p)
    )
    replaces = tuple(
        name
        for name in sorted(schema.REPLACE_FIELDS)
        if name in changed or is_unknown(new.get((name,)))
    )
    # Names are unique per team: keeping both means the old one must go first.
    same_slot = all(
        not is_unknown(new.get(p)) and old.get(p) == new.get(p) for p in (("name",), ("team_id",))
    )
    return Diff(tuple(changed), replaces, bool(replaces) and same_slot)
