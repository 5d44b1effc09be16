"""Command line: `python -m pulumi_oncall.emulator --port 0 --token TOKEN`."""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Sequence
from typing import Any

from .constants import ADMIN_SECRET_ENV, TOKENS_ENV, VIEWER_TOKENS_ENV
from .faults import DEFAULT_FAIL_STATUSES, FaultSettings, parse_statuses
from .flavours import FLAVOURS
from .server import serve
from .state import EmulatorConfig

EPILOG = f"""\
environment:
  {TOKENS_ENV}          comma-separated admin tokens, added to --token
  {VIEWER_TOKENS_ENV}   comma-separated Viewer tokens, added to --viewer-token
  {ADMIN_SECRET_ENV}    default for --admin-secret
  Prefer the environment to --token, so tokens stay out of process listings.

admin endpoints (no auth unless an admin secret is set; then send the header
X-Emulator-Admin: SECRET). Never faulted, throttled or logged:
  GET    /emulator/health
  GET    /emulator/requests            API requests since the last reset
  DELETE /emulator/requests            clear that log
  GET|PUT /emulator/faults             fault and rate-limit settings (PUT is partial)
  GET|PUT /emulator/settings           slack_connected, grafana_reachable
  GET|POST /emulator/teams             POST {{"id"?, "name"}}
  GET|POST /emulator/escalation_chains POST {{"id"?, "name", "team_id"?}}
  GET    /emulator/integrations[?include_deleted=1]   every row, unpaginated
  POST   /emulator/reset               wipe integrations, request log, rate windows
"""


def _rate(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("must be between 0 and 1")
    return value


def _statuses(text: str) -> tuple[int, ...]:
    try:
        return parse_statuses(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError("expected comma-separated statuses") from exc


def _env_list(name: str) -> list[str]:
    return [t.strip() for t in os.environ.get(name, "").split(",") if t.strip()]


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m pulumi_oncall.emulator",
        description="A local emulator of the Grafana OnCall Integrations API.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    p.add_argument("--port", type=int, default=8080, help="port; 0 picks a free one (8080)")
    p.add_argument("--token", action="append", default=[], help="admin API token (repeatable)")
    p.add_argument(
        "--viewer-token",
        action="append",
        default=[],
        help="token of a Viewer: reads only (repeatable)",
    )
    p.add_argument(
        "--admin-secret",
        default=os.environ.get(ADMIN_SECRET_ENV) or None,
        help=f"secret for the /emulator/ endpoints (default ${ADMIN_SECRET_ENV}; none: open)",
    )
    p.add_argument("--db", help="SQLite file to keep state in (default: in memory)")
    p.add_argument(
        "--seed",
        help='JSON file: {"teams": [{"id", "name"}], "escalation_chains": [{"id", "name"}]}',
    )
    p.add_argument(
        "--flavour",
        choices=sorted(FLAVOURS),
        default="oss",
        help="oss, or cloud: more types, msteams, labels (oss)",
    )
    p.add_argument("--public-url", help="base URL of links and pagination (http://HOST:PORT)")
    p.add_argument("--slack-connected", action="store_true", help="accept Slack channels in routes")
    p.add_argument(
        "--grafana-reachable",
        action="store_true",
        help="accept type grafana_alerting (else refused as unreachable)",
    )
    p.add_argument(
        "--rate-limit", type=int, default=300, help="requests per window per user; 0: off (300)"
    )
    p.add_argument(
        "--rate-window", type=float, default=60.0, help="rate-limit window in seconds (60)"
    )
    p.add_argument(
        "--fail-rate", type=_rate, default=0.0, help="fraction (0-1) of API requests failing"
    )
    p.add_argument(
        "--fail-statuses",
        type=_statuses,
        default=DEFAULT_FAIL_STATUSES,
        help="statuses of failing requests, drawn at random (500,502,503)",
    )
    p.add_argument("--latency-ms", type=int, default=0, help="delay added to every API request (0)")
    p.add_argument(
        "--drop-before-rate",
        type=_rate,
        default=0.0,
        help="fraction of requests whose connection is closed before processing",
    )
    p.add_argument(
        "--drop-after-rate",
        type=_rate,
        default=0.0,
        help="fraction of writes committed, then answered by a closed connection",
    )
    p.add_argument("--fault-seed", type=int, help="seed of the fault draws, for reproducibility")
    p.add_argument(
        "--access-log", action="store_true", help="log each request to stderr (no headers)"
    )
    return p


def _load_seed(path: str) -> dict[str, Any]:
    with open(path, encoding="utf-8") as f:
        seed = json.load(f)
    if not isinstance(seed, dict):
        raise ValueError("the seed must be a JSON object")
    for key, required in (("teams", ("id", "name")), ("escalation_chains", ("id", "name"))):
        items = seed.get(key, [])
        if not isinstance(items, list) or not all(
            isinstance(i, dict) and all(isinstance(i.get(r), str) for r in required) for i in items
        ):
            raise ValueError(f"{key} must be a list of objects with string {', '.join(required)}")
    return seed


def config_from_args(args: argparse.Namespace) -> EmulatorConfig:
    admin_tokens = [*args.token, *_env_list(TOKENS_ENV)]
    viewer_tokens = [*args.viewer_token, *_env_list(VIEWER_TOKENS_ENV)]
    if not admin_tokens:
        raise ValueError(f"no admin token: pass --token or set {TOKENS_ENV}")
    faults = FaultSettings(
        fail_rate=args.fail_rate,
        fail_statuses=args.fail_statuses,
        latency_ms=args.latency_ms,
        drop_before_rate=args.drop_before_rate,
        drop_after_rate=args.drop_after_rate,
        rate_limit=args.rate_limit,
        rate_window=args.rate_window,
    )
    return EmulatorConfig(
        admin_tokens=tuple(admin_tokens),
        viewer_tokens=tuple(viewer_tokens),
        flavour=args.flavour,
        public_url=args.public_url,
        slack_connected=args.slack_connected,
        grafana_reachable=args.grafana_reachable,
        admin_secret=args.admin_secret,
        faults=faults,
        fault_seed=args.fault_seed,
        db=args.db,
        seed=_load_seed(args.seed) if args.seed else None,
        access_log=args.access_log,
    )


def main(argv: Sequence[str] | None = None) -> None:
    p = parser()
    args = p.parse_args(argv)
    try:
        config = config_from_args(args)
    except (OSError, ValueError) as exc:
        p.error(str(exc))
    serve(args.host, args.port, config)


if __name__ == "__main__":
    main()
