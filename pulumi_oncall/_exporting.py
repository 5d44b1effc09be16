"""The text of a Pulumi program that adopts existing integrations as they are (the
`export` command writes it).

Each integration becomes an `Integration(...)` with its current non-default fields,
its routes and `import_id`, so `pulumi up` adopts it without changing it.

Everything the server sent is untrusted: it reaches the program only as escaped
string literals, or in comments that cannot hold a line break, so a crafted name
can never become code.
"""

from __future__ import annotations

import keyword
import math
import re
from collections.abc import Mapping
from typing import Any

from . import _model as model
from . import _schema as schema
from ._client import JSONObject

LINE_LENGTH = 88
INDENT = "    "
# Comments are cut there: a server's text may be long.
MAX_COMMENT = 300


class _Unwritable(ValueError):
    """A server value that has no Python literal (NaN, infinity, a non-JSON type)."""


def names_by_id(items: list[Any]) -> dict[str, Any]:
    """Id to name of teams or chains; entries without a string id are of no use."""
    return {
        i["id"]: i.get("name")
        for i in items
        if isinstance(i, Mapping) and isinstance(i.get("id"), str)
    }


def program(
    integrations: list[JSONObject],
    *,
    teams: Mapping[str, Any] | None = None,
    chains: Mapping[str, Any] | None = None,
    connection: str | None = None,
    routes: Mapping[str, list[JSONObject]] | None = None,
    names: Mapping[str, str] | None = None,
    route_names: Mapping[str, str] | None = None,
    notes: Mapping[str, list[str]] | None = None,
    footer: list[str] | None = None,
) -> str:
    """The program's text: stable for the same integrations, whatever their order.

    `routes` maps an integration's id to its routes as the server lists them; an
    integration it holds gets `routes=[...]` in the server's order. `names` maps an
    integration's id to its resource name (else the integration's name gives it),
    `route_names` a route's id to its `name`; `notes` are comment lines above an
    integration, `footer` comment lines at the end. All of them are untrusted text.
    """
    teams, chains = teams or {}, chains or {}
    ordered = sorted(integrations, key=_order)
    kept: list[tuple[JSONObject, list[str]]] = []
    skipped: list[tuple[Any, str]] = []
    for item in ordered:
        reason = _why_not(item)
        if reason is None:
            try:
                listed = None if routes is None else routes.get(str(item.get("id")), [])
                arguments = _arguments(item, teams, chains, connection, listed, route_names)
                kept.append((item, arguments))
                continue
            except _Unwritable as exc:
                reason = str(exc)
        skipped.append((item, reason))

    lines = [
        '"""Existing OnCall integrations, exported by `python -m pulumi_oncall export`.',
        "",
        "`pulumi up` adopts each one through `import_id`, changing nothing; from then on",
        "this program manages them. Edit freely: `import_id` is inert once adopted.",
        '"""',
        "",
        "from pulumi_oncall import Integration",
        "",
    ]
    resource_names: set[str] = set()
    variables: set[str] = set()
    names, notes = names or {}, notes or {}
    if names:  # integrations named by the old tool come in the order of those names
        kept.sort(key=lambda pair: (names.get(str(pair[0].get("id")), ""), _order(pair[0])))
    for item, arguments in kept:
        given = names.get(str(item.get("id")))
        base = _resource_name(given) if given is not None else _slug(str(item.get("name")))
        resource = _unique(base, resource_names, "-")
        variable = _unique(_identifier(resource), variables, "_")
        lines += [""]
        lines += [_comment(note) for note in notes.get(str(item.get("id")), [])]
        lines += [f"{variable} = Integration(", f"{INDENT}{_str(resource)},"]
        lines += [*arguments, ")"]
    if skipped:
        lines += [""]
        for item, reason in skipped:
            lines.append(_left_out(item, reason))
    if footer:
        lines += ["", *(_comment(line) for line in footer)]
    return "\n".join(lines) + "\n"


def left_out_reason(item: Any, routes: list[JSONObject] | None = None) -> str | None:
    """Why `program` would leave the integration out (with these routes), or None."""
    reason = _why_not(item)
    if reason is None:
        try:
            _arguments(item, {}, {}, None, routes)
        except _Unwritable as exc:
            return str(exc)
    return reason


def _order(item: Any) -> tuple[str, str, str]:
    if not isinstance(item, Mapping):
        return ("", "", _sort_text(item))
    return (
        _sort_text(item.get("name")),
        _sort_text(item.get("team_id")),
        _sort_text(item.get("id")),
    )


def _sort_text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else repr(value)


def _left_out(item: Any, reason: str) -> str:
    if not isinstance(item, Mapping):
        return _comment(f"Left out: an entry that is not an object: {reason}")
    name = item.get("name")
    what = (
        f"{repr(name) if isinstance(name, str) else model.kind_of(name)} "
        f"({_text(item.get('id'))}, type {_text(item.get('type'))})"
    )
    return _comment(f"Left out: {what}: {reason}")


def _why_not(item: Any) -> str | None:
    if not isinstance(item, Mapping):
        return "the server sent it in an unknown shape."
    id_ = item.get("id")
    if not model.is_id(id_):
        return (
            "its id is not made of ASCII letters and digits only, so it cannot be "
            "adopted with import_id (the provider refuses such ids)."
        )
    type_ = item.get("type")
    if not isinstance(type_, str):
        return "the server sent its type as " + model.kind_of(type_) + "."
    if type_ in schema.UNMANAGEABLE_TYPES:
        return schema.UNMANAGEABLE_TYPES[type_] + "."
    if type_ not in schema.KNOWN_TYPES and type_ not in schema.REFUSED_TYPES:
        return "this version of pulumi-oncall does not know the type."
    for key in ("default_route", "templates"):
        if item.get(key) is not None and not isinstance(item[key], Mapping):
            return f"the server sent its {key} as {model.kind_of(item[key])}, not a mapping."
    return None


def _arguments(
    item: JSONObject,
    teams: Mapping[str, Any],
    chains: Mapping[str, Any],
    connection: str | None,
    listed_routes: list[JSONObject] | None = None,
    route_names: Mapping[str, str] | None = None,
) -> list[str]:
    """The argument lines of its `Integration(...)` after the resource name."""
    try:
        spec = model.adoptable_spec(item)
        route_specs = _route_specs(listed_routes, route_names or {})
        if route_specs:
            spec["routes"] = route_specs
        failures = model.validate({**spec, "import_id": item["id"]})
    except (AttributeError, TypeError, ValueError) as exc:
        raise _Unwritable("the server sent it in an unexpected shape.") from exc
    if failures:
        # The preview would fail on it: say why here instead.
        found = "; ".join(f"{prop}: {why}" for prop, why in failures)
        raise _Unwritable(f"pulumi-oncall would refuse it as it is ({found}).")
    out: list[str] = []
    for key in (f.name for f in schema.FIELDS if f.role == "api" or f.name == "routes"):
        if key not in spec:
            continue
        value = spec[key]
        if key == "team_id":
            out += _block(f"{INDENT}{key}=", value, INDENT, trailing=_name_of(teams, value))
        elif key == "default_route" and "escalation_chain_id" in value:
            chain = _name_of(chains, value["escalation_chain_id"])
            out += _block(f"{INDENT}{key}=", value, INDENT, comments={"escalation_chain_id": chain})
        else:
            out += _block(f"{INDENT}{key}=", value, INDENT)
    if connection:
        out.append(f"{INDENT}connection={_str(connection)},")
    out.append(f"{INDENT}import_id={_str(item['id'])},")
    return out


def _route_specs(listed: list[JSONObject] | None, names: Mapping[str, str]) -> list[dict[str, Any]]:
    """Routes as declarations, in the server's order, with only what is not a default;
    a route that `names` holds gets that `name`."""
    if not listed:
        return []
    normal = [r for r in listed if isinstance(r, Mapping) and not r.get("is_the_last_route")]
    out = []

    def position(route: Mapping[str, Any]) -> int:
        at = route.get("position")
        return at if type(at) is int else 0

    for route in sorted(normal, key=position):
        spec: dict[str, Any] = {}
        if isinstance(route.get("id"), str) and route["id"] in names:
            spec["name"] = names[route["id"]]
        spec["routing_regex"] = route.get("routing_regex")
        if route.get("routing_type") not in (None, "regex"):
            spec["routing_type"] = route["routing_type"]
        if route.get("escalation_chain_id") is not None:
            spec["escalation_chain_id"] = route["escalation_chain_id"]
        for backend, target in schema.ROUTE_BACKENDS.items():
            block = route.get(backend)
            if isinstance(block, Mapping) and block.get(target) is not None:
                spec[backend] = {target: block[target], "enabled": block.get("enabled", True)}
        out.append(spec)
    return out


def _name_of(names: Mapping[str, Any], id_: Any) -> Any:
    return names.get(id_) if isinstance(id_, str) else None


def _block(
    prefix: str,
    value: Any,
    indent: str,
    *,
    trailing: Any = None,
    comments: Mapping[str, Any] | None = None,
) -> list[str]:
    """`prefix` + value + "," as lines, one line when it fits, as ruff formats it."""
    comment = f"  {_comment(_text(trailing))}" if trailing else ""
    one = f"{prefix}{_literal(value)},"
    named = comments and any(comments.values())
    if isinstance(value, list) and value and len(one) > LINE_LENGTH:
        inner = indent + INDENT
        lines = [prefix + "["]
        for item in value:
            lines += _block(inner, item, inner)
        return [*lines, indent + "],"]
    if isinstance(value, Mapping) and value and (len(one) > LINE_LENGTH or named):
        inner = indent + INDENT
        lines = [prefix + "{"]
        for k, v in value.items():
            note = (comments or {}).get(k)
            lines += _block(f"{inner}{_literal(k)}: ", v, inner, trailing=note)
        return [*lines, indent + "},"]
    return [one + comment]


def _literal(value: Any) -> str:
    """Python source for a JSON value, which evaluates to exactly that value."""
    if isinstance(value, str):
        return _str(value)
    if value is None or isinstance(value, bool):
        return repr(value)
    if type(value) is int or (type(value) is float and math.isfinite(value)):
        try:
            return repr(value)
        except ValueError as exc:  # more digits than int() may print
            raise _Unwritable("the server sent a number too long to write.") from exc
    if type(value) is float:
        raise _Unwritable("the server sent a number that is not finite (NaN or infinity).")
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_literal(k)}: {_literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    raise _Unwritable(f"the server sent {model.kind_of(value)}, which JSON does not have.")


def _str(text: str) -> str:
    """A string literal as ruff writes it: double quotes unless the text holds more
    double than single quotes; every character that is not printable escaped, so
    that no line break or control character ever appears in the source."""
    quote = "'" if text.count('"') > text.count("'") else '"'
    out = []
    for char in text:
        if char == "\\" or char == quote:
            out.append("\\" + char)
        elif char.isprintable():
            out.append(char)
        else:
            out.append(repr(char)[1:-1])  # \n, \x85, \u2028, \ud800, ...
    return quote + "".join(out) + quote


def _text(value: Any) -> str:
    """Server text fit for a comment: as it is when all printable, else a literal."""
    if isinstance(value, str):
        return value if value.isprintable() else _str(value)
    return f"({model.kind_of(value)})"


def _comment(text: str) -> str:
    """A one-line comment, whatever `text` holds."""
    if not text.isprintable():
        text = _str(text)
    if len(text) > MAX_COMMENT:
        text = text[:MAX_COMMENT] + "..."
    return f"# {text}"


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "integration"


def _resource_name(text: str) -> str:
    """A resource name from another tool's: its letters, digits, dots and dashes."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.") or "integration"


def _identifier(slug: str) -> str:
    name = re.sub(r"[^a-z0-9_]+", "_", slug.lower()).strip("_") or "integration"
    if name[0].isdigit():
        name = "integration_" + name
    return name + "_" if keyword.iskeyword(name) else name


def _unique(base: str, taken: set[str], sep: str) -> str:
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}{sep}{n}"
    taken.add(name)
    return name
