"""OnCall's Jinja2 environment: a sandbox with OnCall's extra filters.

Used to refuse, at preview, a template the server would refuse at update, and by
the emulator to refuse the same templates the real server does.
"""

from __future__ import annotations

import base64
import json
import re
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment


def _to_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    if isinstance(value, (int, float)):
        return datetime.fromtimestamp(value, tz=timezone.utc)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def datetimeformat(value: Any, format: str = "%H:%M / %d-%m-%Y") -> str:
    return _to_datetime(value).strftime(format)


def datetimeformat_as_timezone(
    value: Any, format: str = "%H:%M / %d-%m-%Y", tz: str = "UTC"
) -> str:
    return _to_datetime(value).astimezone(ZoneInfo(tz)).strftime(format)


def datetimeparse(value: str, format: str = "%H:%M / %d-%m-%Y") -> datetime:
    return datetime.strptime(value, format)


def iso8601_to_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


_DURATION = re.compile(r"(?P<n>\d+(?:\.\d+)?)\s*(?P<unit>w|d|h|m|s)")
_UNITS = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes", "s": "seconds"}


def timedeltaparse(value: str) -> timedelta:
    parts = {_UNITS[m["unit"]]: float(m["n"]) for m in _DURATION.finditer(value)}
    return timedelta(**parts)


def tojson_pretty(value: Any) -> str:
    return json.dumps(value, indent=4, sort_keys=True, default=str)


def regex_replace(value: str, pattern: str, replacement: str) -> str:
    return re.sub(pattern, replacement, value)


def regex_match(value: str, pattern: str) -> bool:
    return re.match(pattern, value) is not None


def regex_search(value: str, pattern: str) -> bool:
    return re.search(pattern, value) is not None


def json_dumps(value: Any) -> str:
    return json.dumps(value, default=str)


def b64decode(value: str) -> str:
    return base64.b64decode(value).decode()


def parse_json(value: str) -> Any:
    return json.loads(value)


def timestamp_to_datetime(value: float) -> datetime:
    return datetime.fromtimestamp(float(value), tz=timezone.utc)


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


@lru_cache(maxsize=1)
def environment() -> SandboxedEnvironment:
    env = SandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.filters.update(FILTERS)
    env.globals["time"] = lambda: datetime.now(timezone.utc)
    return env


def compile_error(source: str) -> str | None:
    """Why the server would refuse `source`, or None when it compiles."""
    try:
        environment().parse(source)
        # parse() accepts unknown filters; compiling resolves them.
        environment().from_string(source)
    except TemplateSyntaxError as exc:
        return f"line {exc.lineno}: {exc.message}"
    return None
