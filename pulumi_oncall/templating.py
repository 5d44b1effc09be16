"""OnCall's Jinja2 environment: a sandbox with OnCall's extra filters.

Used to refuse, at preview, a template the server would refuse at update; by the
emulator to refuse the same templates the real server does; and by `rendering` to
render templates as the engine does. The filters behave like the engine's: on a
value they cannot handle they give None (which renders as `None`) instead of
raising, so a template renders here exactly what it renders there.
"""

from __future__ import annotations

import base64
import json
import re
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Any, NoReturn
from zoneinfo import ZoneInfo

from jinja2 import TemplateSyntaxError
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

# The engine's filters swallow these and give None.
_SOFT_ERRORS = (ValueError, AttributeError, TypeError)


def datetimeformat(value: Any, format: str = "%H:%M / %d-%m-%Y") -> str | None:
    try:
        return str(value.strftime(format))
    except AttributeError:
        return None


def datetimeformat_as_timezone(
    value: Any, format: str = "%H:%M / %d-%m-%Y", tz: str = "UTC"
) -> str | None:
    # An unknown zone is a KeyError, which the engine lets through as well.
    try:
        return str(value.astimezone(ZoneInfo(tz)).strftime(format))
    except _SOFT_ERRORS:
        return None


def datetimeparse(value: Any, format: str = "%H:%M / %d-%m-%Y") -> datetime | None:
    try:
        return datetime.strptime(value, format)
    except _SOFT_ERRORS:
        return None


def timestamp_to_datetime(value: Any) -> datetime | None:
    # The engine runs in UTC; an aware datetime gives the same text on any machine.
    try:
        return datetime.fromtimestamp(value, tz=timezone.utc)
    except (*_SOFT_ERRORS, OverflowError, OSError):
        return None


def iso8601_to_time(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except _SOFT_ERRORS:
        return None


# One signed amount and one unit, as the engine parses it; months, quarters and
# years match but have no timedelta, so they give None.
_DURATION = re.compile(r"^(?P<sign>[-+]?)(?P<amount>\d+)(?P<unit>[smhdwMQy])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def timedeltaparse(value: Any) -> timedelta | None:
    try:
        match = _DURATION.match(value)
    except _SOFT_ERRORS:
        return None
    if match is None or match["unit"] not in _UNITS:
        return None
    amount = int(match["amount"]) * (-1 if match["sign"] == "-" else 1)
    return timedelta(**{_UNITS[match["unit"]]: amount})


def tojson_pretty(value: Any) -> str | None:
    try:
        return json.dumps(
            value, sort_keys=True, indent=4, separators=(",", ": "), ensure_ascii=False
        )
    except _SOFT_ERRORS:
        return None


def json_dumps(value: Any) -> str | None:
    try:
        return json.dumps(value)
    except _SOFT_ERRORS:
        return None


def regex_replace(value: Any, pattern: Any, replacement: Any) -> str | None:
    try:
        return str(re.sub(pattern, replacement, value))
    except (*_SOFT_ERRORS, re.error):
        return None


def regex_match(value: Any, pattern: Any) -> bool | None:
    try:
        return re.match(pattern, value) is not None
    except (*_SOFT_ERRORS, re.error):
        return None


def regex_search(value: Any, pattern: Any) -> bool | None:
    try:
        return re.search(pattern, value) is not None
    except (*_SOFT_ERRORS, re.error):
        return None


def b64decode(value: Any) -> str | None:
    try:
        return base64.b64decode(value).decode("utf-8")
    except _SOFT_ERRORS:
        return None


def parse_json(value: Any) -> Any:
    try:
        return json.loads(value)
    except _SOFT_ERRORS:
        return None


FILTERS = {
    "datetimeformat": datetimeformat,
    "datetimeformat_as_timezone": datetimeformat_as_timezone,
    "datetimeparse": datetimeparse,
    "iso8601_to_time": iso8601_to_time,
    "timedeltaparse": timedeltaparse,
    "tojson_pretty": tojson_pretty,
    "regex_replace": regex_replace,
    "regex_match": regex_match,
    "regex_search": regex_search,
    "json_dumps": json_dumps,
    "b64decode": b64decode,
    "parse_json": parse_json,
    "timestamp_to_datetime": timestamp_to_datetime,
}


def _restricted(name: str) -> NoReturn:
    raise SecurityError(f"use of '{name}' is restricted")


@lru_cache(maxsize=1)
def environment() -> SandboxedEnvironment:
    # Default Jinja2 whitespace handling, as on the server: it shapes rendered text.
    env = SandboxedEnvironment()
    env.filters.update(FILTERS)
    env.globals["time"] = lambda: datetime.now(timezone.utc)
    # The server refuses `range` at render time (a template error, not a warning).
    env.globals["range"] = lambda *args: _restricted("range")
    return env


@lru_cache(maxsize=4096)
def compile_error(source: str) -> str | None:
    """Why the server would refuse `source`, or None when it compiles.

    Cached: large programs repeat the same templates, and check runs on each.
    """
    try:
        environment().parse(source)
        # parse() accepts unknown filters; compiling resolves them.
        environment().from_string(source)
    except TemplateSyntaxError as exc:
        return f"line {exc.lineno}: {exc.message}"
    return None
