"""Command line: `python -m pulumi_oncall.emulator --port 0 --token TOKEN`."""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Sequence
from typing import Any

from .constants import (
    ADMIN_HEADER,
    ADMIN_SECRET_ENV,
    GRAFANA_URL_HEADER,
    SERVICE_ACCOUNT_PREFIX,
    SERVICE_ACCOUNT_TOKENS_ENV,
    SERVICE_ACCOUNT_VIEWER_TOKENS_ENV,
    TOKENS_ENV,
    VIEWER_TOKENS_ENV,
)
from .faults import DEFAULT_FAIL_STATUSES, FaultSettings, parse_statuses
from .flavours import FLAVOURS
from .server import check_exposure, serve, tls_context
from .state import (
    DEFAULT_SERVICE_LABEL_DELAY,
    SERVICE_LABEL_MODES,
    EmulatorConfig,
    SeedError,
    check_service_label,
    is_http_url,
)
from .tables import SERVICE_LABEL, SERVICE_LABEL_TEMPLATE, SERVICE_LABEL_TYPE

EPILOG = f"""\
environment:
  {TOKENS_ENV}          comma-separated admin tokens, added to --token
  {VIEWER_TOKENS_ENV}   comma-separated Viewer tokens, added to --viewer-token
  {SERVICE_ACCOUNT_TOKENS_ENV}
      comma-separated service-account tokens, added to --service-account-token
  {SERVICE_ACCOUNT_VIEWER_TOKENS_ENV}
      comma-separated read-only service-account tokens, added to
      --service-account-viewer-token
  {ADMIN_SECRET_ENV}    default for --admin-secret
  Prefer the environment to the token flags, so tokens stay out of process listings.

service accounts:
  A {SERVICE_ACCOUNT_PREFIX}... token goes raw in Authorization, with the stack in
  {GRAFANA_URL_HEADER}: --grafana-url (a trailing / does not matter). No or a non-URL
  header: 403 "Organization not found."; another stack: 429 "Organization being
  synced, please retry." with RateLimit-Reset: 350; an unknown token: 403 "Invalid
  token.". Each service account is a user of its own for the rate limit. OnCall API
  keys (--token) ignore {GRAFANA_URL_HEADER}.

labels (--flavour cloud):
  "labels": [{{"key": {{"name": "env"}}, "value": {{"name": "prod"}}}}], and
  "dynamic_labels" alike with a Jinja2 template as the value. A list replaces the
  set, [] clears it, an omitted key keeps it. Answers add ids (stable per key name and
  per value of a key; null for a template) and list the labels in an order of their
  own that differs from the order written. The oss flavour drops labels silently.

routes:
  /api/v1/routes/ as OnCall 1.16.9 serves it: each integration's default route among
  them (listed last, not deletable, the integration's default_route), positions that
  insert and shift, regex and jinja2 routes, 25 per page (perpage up to 100).

{SERVICE_LABEL} label (--flavour cloud):
  As Grafana Cloud does, a {SERVICE_LABEL_TYPE} integration created through the API gets
  the dynamic label {SERVICE_LABEL} = {SERVICE_LABEL_TEMPLATE}, put first,
  unless its dynamic_labels name that key. --service-name-label now (the default) adds
  it in the create; later adds it --service-name-label-delay seconds after, on the
  first request once that time has passed (as Cloud's background task does when the
  label key is not cached yet); off never does. Updates never add it, and neither
  does seeding.

admin endpoints (open on loopback unless an admin secret is set; then every one,
/emulator/health included, needs the header {ADMIN_HEADER}: SECRET, else 403). A
--host other than 127.0.0.0/8, ::1 or localhost needs the secret: without it the
emulator refuses to start. Never faulted, throttled or logged:
  GET    /emulator/health
  GET    /emulator/requests            API requests since the last reset
  DELETE /emulator/requests            clear that log
  GET|PUT /emulator/faults             fault and rate-limit settings (PUT is partial)
  GET|PUT /emulator/settings           slack_connected, grafana_reachable,
                                       service_name_label, service_name_label_delay
  GET|POST /emulator/teams             POST {{"id"?, "name"}}
  GET|POST /emulator/escalation_chains POST {{"id"?, "name", "team_id"?}}
  GET    /emulator/integrations[?include_deleted=1]   every row, unpaginated
  POST   /emulator/integrations        an existing integration, of ANY type (e.g.
         direct_paging, legacy_alertmanager): {{"type", "name", "id"?, "team_id"?,
         "description_short"?, "templates"?, "default_route"?, "labels"?,
         "dynamic_labels"?}}; 201 with the integration as the API shows it
         (legacy_* types without the prefix, as the server shows them). Fields
         are checked as on create; names stay unique per team, one direct_paging
         per team. The API cannot delete direct_paging integrations (400).
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
        description="A local emulator of the Grafana OnCall public API (integrations, routes).",
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
        "--service-account-token",
        action="append",
        default=[],
        help=f"service-account token ({SERVICE_ACCOUNT_PREFIX}...) that may write (repeatable)",
    )
    p.add_argument(
        "--service-account-viewer-token",
        action="append",
        default=[],
        help="read-only Grafana service-account token (repeatable)",
    )
    p.add_argument(
        "--grafana-url",
        help=f"the organisation's Grafana stack, matched against {GRAFANA_URL_HEADER}",
    )
    p.add_argument(
        "--admin-secret",
        default=os.environ.get(ADMIN_SECRET_ENV) or None,
        help=f"secret that every /emulator/ request must send as {ADMIN_HEADER} (default "
        f"${ADMIN_SECRET_ENV}, which keeps it out of process listings); required with a "
        "--host other than loopback, optional (default: none, endpoints open) on it",
    )
    p.add_argument("--db", help="SQLite file to keep state in (default: in memory)")
    p.add_argument(
        "--seed",
        help='JSON file: {"teams": [{"id", "name"}], "escalation_chains": [{"id", "name"}], '
        '"integrations": [{"type", "name", ...}]} (integrations as POST /emulator/integrations; '
        "those already in --db are kept)",
    )
    p.add_argument(
        "--flavour",
        choices=sorted(FLAVOURS),
        default="oss",
        help="oss, or cloud: more types, msteams, labels (oss)",
    )
    p.add_argument(
        "--service-name-label",
        choices=SERVICE_LABEL_MODES,
        help=f"when the cloud flavour adds its {SERVICE_LABEL} label to new "
        f"{SERVICE_LABEL_TYPE} integrations: now, later or off (cloud: now; oss: off)",
    )
    p.add_argument(
        "--service-name-label-delay",
        type=float,
        default=DEFAULT_SERVICE_LABEL_DELAY,
        help=f"seconds until a `later` {SERVICE_LABEL} label appears "
        f"({DEFAULT_SERVICE_LABEL_DELAY:g})",
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
    p.add_argument(
        "--tls-cert", help="PEM file of the certificate (and its chain) to serve HTTPS with"
    )
    p.add_argument("--tls-key", help="PEM file of the private key of --tls-cert")
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
    items = seed.get("integrations", [])
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise ValueError("integrations must be a list of objects")
    return seed


def config_from_args(args: argparse.Namespace) -> EmulatorConfig:
    admin_tokens = [*args.token, *_env_list(TOKENS_ENV)]
    viewer_tokens = [*args.viewer_token, *_env_list(VIEWER_TOKENS_ENV)]
    sa_tokens = [*args.service_account_token, *_env_list(SERVICE_ACCOUNT_TOKENS_ENV)]
    sa_viewer_tokens = [
        *args.service_account_viewer_token,
        *_env_list(SERVICE_ACCOUNT_VIEWER_TOKENS_ENV),
    ]
    if not admin_tokens and not sa_tokens:
        raise ValueError(
            f"no admin token: pass --token or set {TOKENS_ENV} "
            f"(or a service-account token with --grafana-url)"
        )
    if any(t.startswith(SERVICE_ACCOUNT_PREFIX) for t in admin_tokens + viewer_tokens):
        raise ValueError(
            f"a token starting with {SERVICE_ACCOUNT_PREFIX} is a service-account token: "
            "pass it with --service-account-token or --service-account-viewer-token"
        )
    if any(not t.startswith(SERVICE_ACCOUNT_PREFIX) for t in sa_tokens + sa_viewer_tokens):
        raise ValueError(f"service-account tokens start with {SERVICE_ACCOUNT_PREFIX}")
    if args.grafana_url is not None and not is_http_url(args.grafana_url):
        raise ValueError("--grafana-url must be an http(s) URL, e.g. https://STACK.grafana.net")
    if (sa_tokens or sa_viewer_tokens) and args.grafana_url is None:
        raise ValueError("service-account tokens need --grafana-url, the stack they belong to")
    if bool(args.tls_cert) != bool(args.tls_key):
        raise ValueError("--tls-cert and --tls-key go together")
    if args.tls_cert:
        tls_context(args.tls_cert, args.tls_key)  # fails now, not at the first request
    mode = args.service_name_label or ("now" if FLAVOURS[args.flavour].labels else "off")
    check_service_label(mode, args.service_name_label_delay, args.flavour)
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
        service_account_tokens=tuple(sa_tokens),
        service_account_viewer_tokens=tuple(sa_viewer_tokens),
        grafana_url=args.grafana_url,
        flavour=args.flavour,
        public_url=args.public_url,
        slack_connected=args.slack_connected,
        grafana_reachable=args.grafana_reachable,
        service_name_label=mode,
        service_name_label_delay=args.service_name_label_delay,
        admin_secret=args.admin_secret,
        faults=faults,
        fault_seed=args.fault_seed,
        db=args.db,
        seed=_load_seed(args.seed) if args.seed else None,
        access_log=args.access_log,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
    )


def main(argv: Sequence[str] | None = None) -> None:
    p = parser()
    args = p.parse_args(argv)
    try:
        config = config_from_args(args)
        check_exposure(args.host, config)
    except (OSError, ValueError) as exc:
        p.error(str(exc))
    try:
        serve(args.host, args.port, config)
    except SeedError as exc:
        p.error(str(exc))


if __name__ == "__main__":
    main()
