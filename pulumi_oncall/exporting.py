"""`export`: write a Pulumi program that adopts existing integrations as they are.

    GRAFANA_ONCALL_ACCESS_TOKEN=... python -m pulumi_oncall export \\
        --url https://oncall.example.com [--team-id T] [--name-regex R] [--output FILE]

Each integration becomes an `Integration(...)` with its current non-default fields
and `import_id`, so `pulumi up` adopts it without changing it. The token is read from
GRAFANA_ONCALL_ACCESS_TOKEN only, never from a flag (flags end up in shell history).
"""

from __future__ import annotations

import argparse
import keyword
import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from . import config, model, schema
from .client import JSONObject
from .exceptions import OnCallError

LINE_LENGTH = 88
INDENT = "    "


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument(
        "--url",
        help=f"OnCall API URL (default: ${config.URL_ENV}); the token comes from "
        f"${config.TOKEN_ENV}",
    )
    parser.add_argument(
        "--grafana-url",
        help=f"Grafana stack URL, for service-account tokens (default: ${config.GRAFANA_URL_ENV})",
    )
    parser.add_argument("--team-id", help="only the integrations of this team")
    parser.add_argument("--name-regex", help="only integrations whose name matches (re.search)")
    parser.add_argument(
        "--connection", help="write connection=NAME on each resource (a named connection)"
    )
    parser.add_argument("--output", "-o", type=Path, help="file to write (default: stdout)")


def run(args: argparse.Namespace, extra: list[str]) -> int:
    flags = {config.URL_KEY: args.url, config.GRAFANA_URL_KEY: args.grafana_url}
    try:
        pattern = re.compile(args.name_regex) if args.name_regex else None
    except re.error as exc:
        sys.exit(f"export: --name-regex: {exc}")
    try:
        client = config.shared_client(config.load(flags.get, os.environ))
        integrations = client.list_integrations()
        teams = {t["id"]: t.get("name") for t in client.list_teams()}
        chains = {c["id"]: c.get("name") for c in client.list_escalation_chains()}
    except OnCallError as exc:
        sys.exit(f"export: {exc}")
    chosen = [
        i
        for i in integrations
        if (args.team_id is None or i.get("team_id") == args.team_id)
        and (pattern is None or pattern.search(str(i.get("name"))))
    ]
    text = program(chosen, teams=teams, chains=chains, connection=args.connection)
    if args.output:
        args.output.write_text(text)
        print(f"wrote {len(chosen)} integrations to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def program(
    integrations: list[JSONObject],
    *,
    teams: Mapping[str, Any] | None = None,
    chains: Mapping[str, Any] | None = None,
    connection: str | None = None,
) -> str:
    """The program's text: stable for the same integrations, whatever their order."""
    teams, chains = teams or {}, chains or {}
    ordered = sorted(
        integrations, key=lambda i: (str(i.get("name")), i.get("team_id") or "", i["id"])
    )
    kept: list[tuple[JSONObject, str | None]] = []
    skipped: list[tuple[JSONObject, str | None]] = []
    for item in ordered:
        reason = _why_not(item)
        (skipped if reason else kept).append((item, reason))

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
    for item, _ in kept:
        resource = _unique(_slug(str(item.get("name"))), resource_names, "-")
        variable = _unique(_identifier(resource), variables, "_")
        lines += ["", *_integration(variable, resource, item, teams, chains, connection)]
    if skipped:
        lines += [""]
        for item, reason in skipped:
            what = f"{item.get('name')!r} ({item['id']}, type {item.get('type')})"
            lines.append(f"# Left out: {what}: {reason}")
    return "\n".join(lines) + "\n"


def _why_not(item: JSONObject) -> str | None:
    type_ = str(item.get("type"))
    if type_ in schema.UNMANAGEABLE_TYPES:
        return schema.UNMANAGEABLE_TYPES[type_] + "."
    if type_ not in schema.KNOWN_TYPES and type_ not in schema.REFUSED_TYPES:
        return "this version of pulumi-oncall does not know the type."
    return None


def _integration(
    variable: str,
    resource: str,
    item: JSONObject,
    teams: Mapping[str, Any],
    chains: Mapping[str, Any],
    connection: str | None,
) -> list[str]:
    spec = model.adoptable_spec(item)
    out = [f"{variable} = Integration(", f"{INDENT}{_str(resource)},"]
    for key in schema.API_FIELDS:
        if key not in spec:
            continue
        value = spec[key]
        comment = None
        if key == "team_id":
            comment = teams.get(value)
        if key == "default_route" and "escalation_chain_id" in value:
            chain = value["escalation_chain_id"]
            out += _block(
                f"{INDENT}{key}=",
                value,
                INDENT,
                comments={"escalation_chain_id": chains.get(chain)},
            )
            continue
        out += _block(f"{INDENT}{key}=", value, INDENT, trailing=comment)
    if connection:
        out.append(f"{INDENT}connection={_str(connection)},")
    out.append(f"{INDENT}import_id={_str(item['id'])},")
    out.append(")")
    return out


def _block(
    prefix: str,
    value: Any,
    indent: str,
    *,
    trailing: Any = None,
    comments: Mapping[str, Any] | None = None,
) -> list[str]:
    """`prefix` + value + "," as lines, one line when it fits, as ruff formats it."""
    comment = f"  # {trailing}" if trailing else ""
    one = f"{prefix}{_inline(value)},"
    named = comments and any(comments.values())
    if isinstance(value, Mapping) and value and (len(one) > LINE_LENGTH or named):
        inner = indent + INDENT
        lines = [prefix + "{"]
        for k, v in value.items():
            note = (comments or {}).get(k)
            lines += _block(f"{inner}{_str(k)}: ", v, inner, trailing=note)
        return [*lines, indent + "},"]
    return [one + comment]


def _inline(value: Any) -> str:
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_str(k)}: {_inline(v)}" for k, v in value.items()) + "}"
    if isinstance(value, str):
        return _str(value)
    return repr(value)


def _str(text: str) -> str:
    """A string literal in ruff's preferred quotes: double, unless that needs more escapes."""
    literal = repr(text)
    if literal.startswith("'") and '"' not in text:
        literal = '"' + literal[1:-1].replace("\\'", "'") + '"'
    return literal


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "integration"


def _identifier(slug: str) -> str:
    name = slug.replace("-", "_")
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
