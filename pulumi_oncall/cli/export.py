"""`export`: write a Pulumi program that adopts existing integrations as they are.

    GRAFANA_ONCALL_ACCESS_TOKEN=... python -m pulumi_oncall export \\
        --url https://oncall.example.com [--team-id T] [--name-regex R] [--output FILE]

With --from-terraform STATE (a `terraform state pull`) or --from-pulumi STATE (a
`pulumi stack export` of a pulumi-grafana stack), only the integrations and routes
that state manages are exported, named after their addresses, and the commands that
make the old tool let go of them are printed (and written with --handover FILE).
They are never run: run them after `pulumi up` of the program. STATE `-` is standard
input.

The token is read from GRAFANA_ONCALL_ACCESS_TOKEN only, never from a flag (flags end
up in shell history).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from .. import _config as config
from .. import _migrating as migrating
from .._client import JSONObject
from .._connection import connect
from .._exceptions import OnCallError, StateError
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
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--from-terraform",
        metavar="STATE",
        help="only what this Terraform state (JSON, version 4; - for stdin) manages",
    )
    source.add_argument(
        "--from-pulumi",
        metavar="STATE",
        help="only what this `pulumi stack export` of a pulumi-grafana stack manages",
    )
    parser.add_argument(
        "--handover",
        type=Path,
        metavar="FILE",
        help="with --from-*: also write the hand-over commands to FILE (never run)",
    )


def run(args: argparse.Namespace, extra: list[str]) -> int:
    flags = {config.URL_KEY: args.url, config.GRAFANA_URL_KEY: args.grafana_url}
    try:
        pattern = re.compile(args.name_regex) if args.name_regex else None
    except re.error as exc:
        sys.exit(f"export: --name-regex: {exc}")
    old: migrating.OldState | None = None
    if args.from_terraform is not None or args.from_pulumi is not None:
        tool: migrating.Tool = "terraform" if args.from_terraform is not None else "pulumi"
        old = _read_state(tool, args.from_terraform or args.from_pulumi)
    elif args.handover is not None:
        sys.exit("export: --handover needs --from-terraform or --from-pulumi")
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

    def wanted(i: Mapping[str, object]) -> bool:
        return (args.team_id is None or i.get("team_id") == args.team_id) and (
            pattern is None or pattern.search(str(i.get("name"))) is not None
        )

    if old is not None:
        return _migrate(args, old, integrations, routes, teams, chains, wanted)
    chosen = [
        i
        for i in integrations
        if not isinstance(i, Mapping) or wanted(i)  # non-objects: left out with a comment
    ]
    text = program(chosen, teams=teams, chains=chains, connection=args.connection, routes=routes)
    if args.output:
        args.output.write_text(text, encoding="utf-8")
        print(f"wrote {len(chosen)} integrations to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def _read_state(tool: migrating.Tool, path: str) -> migrating.OldState:
    what = "standard input" if path == "-" else path
    try:
        data = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        sys.exit(f"export: {migrating.shown(what)}: found a file that is not text (UTF-8)")
    except OSError as exc:
        sys.exit(f"export: cannot read {migrating.shown(what)}: {exc.strerror or exc}")
    try:
        return migrating.read(tool, text, migrating.shown(what))
    except StateError as exc:
        sys.exit(f"export: {exc}")


def _migrate(
    args: argparse.Namespace,
    old: migrating.OldState,
    integrations: list[JSONObject],
    routes: dict[str, list[JSONObject]],
    teams: dict[str, object],
    chains: dict[str, object],
    wanted: Callable[[Mapping[str, object]], bool],
) -> int:
    text, migration = migrating.exported(
        old,
        integrations,
        routes,
        teams=teams,
        chains=chains,
        connection=args.connection,
        chosen=wanted,
    )
    target = str(args.output) if args.output else "the exported program"
    handover = migrating.handover(migration, target)
    if args.output:
        args.output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    if args.handover:
        args.handover.write_text(handover, encoding="utf-8")
    for line in migrating.summary(migration):
        print(line, file=sys.stderr)
    if args.output:
        print(f"wrote {len(migration.integrations)} integrations to {args.output}", file=sys.stderr)
    if args.handover:
        print(f"wrote the hand-over to {args.handover}", file=sys.stderr)
    sys.stderr.write(handover)
    return 0
