"""`export`: write a Pulumi program that adopts existing integrations as they are.

    GRAFANA_ONCALL_ACCESS_TOKEN=... python -m pulumi_oncall export \\
        --url https://oncall.example.com [--team-id T] [--name-regex R] [--output FILE]

The token is read from GRAFANA_ONCALL_ACCESS_TOKEN only, never from a flag (flags end
up in shell history).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path

from .. import _config as config
from .._client import JSONObject
from .._connection import connect
from .._exceptions import OnCallError
from .._exporting import names_by_id, program


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
        oncall = connect(config.load(flags.get, os.environ))
        integrations = oncall.client.list_integrations()
        routes: dict[str, list[JSONObject]] = {}
        for route in oncall.client.list_routes():
            if isinstance(route, Mapping):
                routes.setdefault(str(route.get("integration_id")), []).append(route)
        teams = names_by_id(oncall.teams.get())
        chains = names_by_id(oncall.escalation_chains.get())
    except OnCallError as exc:
        sys.exit(f"export: {exc}")
    chosen = [
        i
        for i in integrations
        if not isinstance(i, Mapping)  # left out by program(), with a comment
        or (
            (args.team_id is None or i.get("team_id") == args.team_id)
            and (pattern is None or pattern.search(str(i.get("name"))))
        )
    ]
    text = program(chosen, teams=teams, chains=chains, connection=args.connection, routes=routes)
    if args.output:
        args.output.write_text(text, encoding="utf-8")
        print(f"wrote {len(chosen)} integrations to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0
