"""OnCall's Jinja2 environment: a sandbox with OnCall's extra filters, and bounds.

Used to refuse, at preview, a template the server would refuse at update; by the
emulator to refuse the same templates the real server does; and by `rendering` to
render templates as the engine does. The filters behave like the engine's: on a
value they cannot handle they give None (which renders as `None`) instead of
raising, so a template renders here exactly what it renders there; the regex
filters run on the `regex` module with the engine's 2 s timeout.

Two things differ from the engine, so that a hostile template can neither hang nor
exhaust the machine:

- Compiling never runs template code. Jinja folds constant expressions, filters
  included, at compile time (even without its optimiser, for output); here nothing
  is folded, so `compile_error` costs the parse and nothing else.
- A render may not build a string or list over `MAX_BUILD` characters or items, nor
  a number over `MAX_DIGITS` digits: the operators, str methods and builtin filters
  that could are checked before they run, and the output as it is joined. Such a
  render raises `RenderBoundError`. Time and memory are bounded by the process that
  renders (see `_render_worker`).
"""

from __future__ import annotations

import base64
import inspect
import json
import math
import re
import types
from collections.abc import Callable, Iterable, Mapping
from contextvars import ContextVar
from datetime import datetime, timedelta, timezone
from functools import lru_cache, update_wrapper, wraps
from typing import Any, NoReturn
from zoneinfo import ZoneInfo

import regex
from jinja2 import TemplateSyntaxError, nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment, SandboxedEscapeFormatter, SandboxedFormatter
from jinja2.utils import generate_lorem_ipsum
from markupsafe import Markup

# The engine's filters swallow these and give None.
_SOFT_ERRORS = (ValueError, AttributeError, TypeError)

REGEX_TIMEOUT = 2
"""Seconds a regex filter may run, as on the engine; then it gives None."""
MAX_BUILD = 10_000_000
"""Characters of any string, items of any list, that one render may build."""
MAX_DIGITS = 100_000
"""Digits of any number that one render may compute."""


class RenderBoundError(Exception):
    """A render would go past one of the bounds; the message names it."""


def _too_big(size: int, what: str = "a string", unit: str = "characters") -> RenderBoundError:
    return RenderBoundError(
        f"builds {what} of {size:,} {unit}, over the {MAX_BUILD:,} that a render may build"
    )


def _check_size(size: int, what: str = "a string", unit: str = "characters") -> None:
    if size > MAX_BUILD:
        raise _too_big(size, what, unit)


# Regex filters that gave up during the current render, for the render to report.
_gave_up: ContextVar[list[str] | None] = ContextVar("gave_up", default=None)


def collect_give_ups() -> list[str]:
    """Start collecting, for the current context, the regex filters that give up."""
    found: list[str] = []
    _gave_up.set(found)
    return found


def _give_up(name: str) -> None:
    found = _gave_up.get()
    if found is not None and name not in found:
        found.append(name)


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


# As on the engine: an invalid pattern (regex.error) is not swallowed, it fails the
# render; a timeout gives None, and is noted so that the render can report it.
def regex_replace(value: Any, pattern: Any, replacement: Any) -> str | None:
    try:
        return str(regex.sub(pattern, replacement, value, timeout=REGEX_TIMEOUT))
    except TimeoutError:
        _give_up("regex_replace")
        return None
    except _SOFT_ERRORS:
        return None


def regex_match(value: Any, pattern: Any) -> bool | None:
    try:
        return regex.match(pattern, value, timeout=REGEX_TIMEOUT) is not None
    except TimeoutError:
        _give_up("regex_match")
        return None
    except _SOFT_ERRORS:
        return None


def regex_search(value: Any, pattern: Any) -> bool | None:
    try:
        return regex.search(pattern, value, timeout=REGEX_TIMEOUT) is not None
    except TimeoutError:
        _give_up("regex_search")
        return None
    except _SOFT_ERRORS:
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


# --- Compiling without running anything -------------------------------------------


class _CodeGenerator(CodeGenerator):
    """Jinja's code generator, minus its compile-time evaluation of expressions."""

    def _output_child_to_const(self, node: nodes.Expr, frame: Frame, finalize: Any) -> str:
        # Jinja evaluates constant output (`{{ 'a' * 10**9 }}`, filters included)
        # here; only literal text is let through.
        if isinstance(node, nodes.TemplateData):
            return super()._output_child_to_const(node, frame, finalize)
        raise nodes.Impossible()

    def visit_EvalContextModifier(self, node: nodes.EvalContextModifier, frame: Frame) -> None:
        # `{% autoescape EXPR %}`: Jinja evaluates EXPR at compile time when it can.
        for keyword in node.options:
            self.writeline(f"context.eval_ctx.{keyword.key} = ")
            self.visit(keyword.value, frame)
            if isinstance(keyword.value, nodes.Const):
                setattr(frame.eval_ctx, keyword.key, keyword.value.value)
            else:
                frame.eval_ctx.volatile = True

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        # `a ~ b`: measured before it is joined, the join as Jinja's.
        if frame.eval_ctx.volatile:
            join = "(markup_join if context.eval_ctx.volatile else str_join)"
        elif frame.eval_ctx.autoescape:
            join = "markup_join"
        else:
            join = "str_join"
        self.write(f"environment.checked_concat({join}, (")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


# --- Size checks ---------------------------------------------------------------------

_SEQUENCES = (str, bytes, list, tuple)


def _digits(number: int) -> int:
    return int(abs(number).bit_length() * 0.30103) + 1


def _check_digits(digits: int) -> None:
    if digits > MAX_DIGITS:
        raise RenderBoundError(
            f"computes a number of {digits:,} digits, over the {MAX_DIGITS:,} that a render "
            "may compute"
        )


def _what(value: Any) -> tuple[str, str]:
    if isinstance(value, (list, tuple)):
        return f"a {type(value).__name__}", "items"
    return "a string", "characters"


def _check_binop(operator: str, left: Any, right: Any) -> None:
    if operator == "*":
        for seq, count in ((left, right), (right, left)):
            if isinstance(seq, _SEQUENCES) and isinstance(count, int):
                _check_size(len(seq) * count, *_what(seq))
        if isinstance(left, int) and isinstance(right, int):
            _check_digits(_digits(left) + _digits(right))
    elif operator == "+":
        if isinstance(left, _SEQUENCES) and isinstance(right, _SEQUENCES):
            _check_size(len(left) + len(right), *_what(left))
    elif operator == "**":
        if isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1:
            _check_digits(int(right * math.log10(abs(left))) + 1)
    elif operator == "%" and isinstance(left, str):
        _check_printf(left, right)


# A printf-style conversion: %(key)-08.3f, %*d, %%.
_PRINTF = re.compile(
    r"%(?:\((?P<key>[^)]*)\))?[-#0 +]*(?P<width>\*|\d+)?(?:\.(?P<precision>\*|\d*))?[hlL]?"
)


def _number(digits: str) -> int:
    # int() refuses over 4,300 digits; such a width is over the bound anyway.
    return MAX_BUILD + 1 if len(digits) > 4000 else int(digits or 0)


def _check_printf(fmt: str, args: Any) -> None:
    """Refuse `fmt % args` when its result may be over the bound (an upper estimate)."""
    values = args if isinstance(args, tuple) else (args,)
    widest = max((abs(v) for v in values if isinstance(v, int)), default=0)
    size = len(fmt)
    for match in _PRINTF.finditer(fmt):
        for part in (match["width"], match["precision"]):
            if part == "*":
                size += widest
            elif part:
                size += _number(part)
        if match["key"] is not None and isinstance(args, Mapping):
            size += _size(args.get(match["key"]))
    if not isinstance(args, Mapping):
        size += sum(_size(v) for v in values)
    _check_size(size)


def _size(value: Any, depth: int = 0) -> int:
    """About how many characters `str(value)` has, without building it."""
    if isinstance(value, (str, bytes)):
        return len(value)
    if isinstance(value, bool) or value is None:
        return 5
    if isinstance(value, int):
        return _digits(value)
    if depth < 8 and isinstance(value, Mapping):
        total = 2
        for key, item in value.items():
            total += _size(key, depth + 1) + _size(item, depth + 1) + 4
            if total > MAX_BUILD:
                break
        return total
    if depth < 8 and isinstance(value, (list, tuple, set, frozenset)):
        total = 2
        for item in value:
            total += _size(item, depth + 1) + 2
            if total > MAX_BUILD:
                break
        return total
    return 64


def _check_spec(spec: str) -> None:
    """A `str.format` field's width and precision."""
    for digits in re.findall(r"\d+", spec):
        _check_size(_number(digits))


class _BoundedFormatter(SandboxedFormatter):
    """`str.format` in the sandbox, measuring what it builds."""

    def __init__(self, env: Any, **kwargs: Any) -> None:
        super().__init__(env, **kwargs)
        self._built = 0

    def format_field(self, value: Any, format_spec: str) -> Any:
        _check_spec(format_spec)
        text = super().format_field(value, format_spec)
        self._built += len(text)
        _check_size(self._built)
        return text


class _BoundedEscapeFormatter(_BoundedFormatter, SandboxedEscapeFormatter):
    pass


_WIDTH_METHODS = frozenset({"ljust", "rjust", "center", "zfill"})


def _check_replace(s: Any, old: Any, new: Any, count: Any) -> None:
    kind = type(s)
    if kind not in (str, bytes) or not (isinstance(old, kind) and isinstance(new, kind)):
        return
    if len(new) <= len(old):
        return
    found = int(s.count(old)) if old else len(s) + 1
    if isinstance(count, int) and count >= 0:
        found = min(found, count)
    _check_size(len(s) + found * (len(new) - len(old)))


def _checked_join(separator: Any, iterable: Any) -> list[Any]:
    items = list(iterable)
    strings = sum(len(i) for i in items if isinstance(i, (str, bytes)))
    _check_size(strings + _size(separator) * max(len(items) - 1, 0))
    return items


def _checked_call_args(obj: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """Refuse a str, bytes or list method call that would build too much.

    Returns the arguments to call it with (`join` gets its iterable as a list).
    """
    if not isinstance(obj, types.BuiltinMethodType):
        return args
    owner, name = obj.__self__, obj.__name__
    if isinstance(owner, (str, bytes)):
        if name in _WIDTH_METHODS and args and isinstance(args[0], int):
            _check_size(args[0])
        elif name == "expandtabs":
            tabsize = args[0] if args else kwargs.get("tabsize", 8)
            if isinstance(tabsize, int):
                tabs = owner.count("\t") if isinstance(owner, str) else owner.count(b"\t")
                _check_size(len(owner) + tabs * tabsize)
        elif name == "replace" and len(args) >= 2:
            count = args[2] if len(args) > 2 else kwargs.get("count", -1)
            _check_replace(owner, args[0], args[1], count)
        elif name == "join" and len(args) == 1:
            return (_checked_join(owner, args[0]),)
        elif name == "translate" and args and isinstance(args[0], Mapping):
            widest = max(
                (len(v) for v in args[0].values() if isinstance(v, (str, bytes))), default=1
            )
            _check_size(len(owner) * widest)
    elif isinstance(owner, list) and name == "extend" and args and hasattr(args[0], "__len__"):
        _check_size(len(owner) + len(args[0]), "a list", "items")
    return args


# Jinja's builtin filters (and the lipsum global) that can build a lot from a
# little: each gets a check of its arguments, bound by name, before it runs.
def _check_indent(a: dict[str, Any]) -> None:
    s, width = a["s"], a["width"]
    if isinstance(s, str) and isinstance(width, (int, str)):
        step = width if isinstance(width, int) else len(width)
        _check_size(len(s) + (s.count("\n") + 1) * step)


def _check_wordwrap(a: dict[str, Any]) -> None:
    s, width, wrap = a["s"], a["width"], a["wrapstring"]
    if isinstance(s, str) and isinstance(wrap, str) and isinstance(width, int) and width > 0:
        lines = len(s) // width + s.count(" ") + s.count("\n") + 1
        _check_size(len(s) + lines * len(wrap))


def _check_join(a: dict[str, Any]) -> dict[str, Any] | None:
    if a["attribute"] is not None:
        return None
    return {"value": _checked_join(a["d"], a["value"])}


def _check_width(name: str) -> Callable[[dict[str, Any]], None]:
    def check(a: dict[str, Any]) -> None:
        if isinstance(a[name], int):
            _check_size(a[name])

    return check


def _check_count(a: dict[str, Any]) -> None:
    count = a["count"]
    _check_replace(a["s"], a["old"], a["new"], -1 if count is None else count)


def _check_batch(a: dict[str, Any]) -> None:
    if a["fill_with"] is not None and isinstance(a["linecount"], int):
        _check_size(a["linecount"], "a list", "items")


def _check_slice(a: dict[str, Any]) -> None:
    if isinstance(a["slices"], int):
        _check_size(a["slices"], "a list", "items")


def _check_format(a: dict[str, Any]) -> None:
    _check_printf(str(a["value"]), a["kwargs"] or a["args"])


def _check_lipsum(a: dict[str, Any]) -> None:
    if isinstance(a["n"], int) and isinstance(a["max"], int):
        _check_size(a["n"] * a["max"] * 12)


_FILTER_CHECKS: dict[str, Callable[[dict[str, Any]], dict[str, Any] | None]] = {
    "center": _check_width("width"),
    "indent": _check_indent,
    "format": _check_format,
    "replace": _check_count,
    "batch": _check_batch,
    "slice": _check_slice,
    "wordwrap": _check_wordwrap,
    "join": _check_join,
    "tojson": _check_width("indent"),
}


def _guarded(function: Callable[..., Any], check: Callable[[dict[str, Any]], Any]) -> Any:
    # Jinja passes a filter marked pass_eval_context (or _context, _environment) one
    # more first argument; the function it wraps may or may not take it itself.
    passes = hasattr(function, "jinja_pass_arg")
    inner = inspect.unwrap(function)
    parameters = list(inspect.signature(inner).parameters.values())
    if hasattr(inner, "jinja_pass_arg"):
        parameters = parameters[1:]
    signature = inspect.Signature(parameters)

    @wraps(function)  # keeps Jinja's pass_eval_context marks
    def guarded(*args: Any, **kwargs: Any) -> Any:
        lead, rest = (args[:1], args[1:]) if passes else ((), args)
        try:
            bound = signature.bind(*rest, **kwargs)
        except TypeError:
            return function(*args, **kwargs)  # the filter says what is wrong
        bound.apply_defaults()
        replaced = check(dict(bound.arguments))
        if replaced:
            bound.arguments.update(replaced)
        return function(*lead, *bound.args, **bound.kwargs)

    return guarded


def _bounded_concat(pieces: Iterable[str]) -> str:
    """The output of a render or a block, joined once it is known to fit."""
    parts = []
    built = 0
    for piece in pieces:
        built += len(piece)
        if built > MAX_BUILD:
            raise RenderBoundError(
                f"builds a text of over {MAX_BUILD:,} characters, the most that a render may build"
            )
        parts.append(piece)
    return "".join(parts)


class OnCallEnvironment(SandboxedEnvironment):
    """The engine's sandbox, compiling without evaluating and rendering within bounds."""

    code_generator_class = _CodeGenerator
    intercepted_binops = frozenset({"+", "*", "**", "%"})
    concat = staticmethod(_bounded_concat)

    def __init__(self) -> None:
        # Default Jinja2 whitespace handling, as on the server: it shapes rendered text.
        super().__init__(optimized=False)
        for name, check in _FILTER_CHECKS.items():
            self.filters[name] = _guarded(self.filters[name], check)
        self.globals["lipsum"] = _guarded(generate_lorem_ipsum, _check_lipsum)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        _check_binop(operator, left, right)
        return super().call_binop(context, operator, left, right)

    def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        args = _checked_call_args(obj, args, kwargs)
        return super().call(context, obj, *args, **kwargs)

    def checked_concat(self, join: Callable[[Any], str], values: tuple[Any, ...]) -> str:
        _check_size(sum(_size(v) for v in values))
        return join(values)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        # As Jinja's, with a formatter that measures what it builds.
        if not isinstance(value, (types.MethodType, types.BuiltinMethodType)) or (
            value.__name__ not in ("format", "format_map")
        ):
            return None
        f_self: Any = value.__self__
        if not isinstance(f_self, str):
            return None
        str_type: type[str] = type(f_self)
        is_format_map = value.__name__ == "format_map"

        def wrapper(*args: Any, **kwargs: Any) -> str:
            formatter: _BoundedFormatter
            if isinstance(f_self, Markup):
                formatter = _BoundedEscapeFormatter(self, escape=f_self.escape)
            else:
                formatter = _BoundedFormatter(self)
            if is_format_map:
                if kwargs:
                    raise TypeError("format_map() takes no keyword arguments")
                if len(args) != 1:
                    raise TypeError(f"format_map() takes exactly one argument ({len(args)} given)")
                kwargs = args[0]
                args = ()
            return str_type(formatter.vformat(f_self, args, kwargs))

        return update_wrapper(wrapper, value)


@lru_cache(maxsize=1)
def environment() -> OnCallEnvironment:
    env = OnCallEnvironment()
    env.filters.update(FILTERS)
    env.globals["time"] = lambda: datetime.now(timezone.utc)
    # The server refuses `range` at render time (a template error, not a warning).
    env.globals["range"] = lambda *args: _restricted("range")
    return env


@lru_cache(maxsize=4096)
def compile_error(source: str) -> str | None:
    """Why the server would refuse `source`, or None when it compiles.

    Runs nothing of the template, so it costs about the template's length.
    Cached: large programs repeat the same templates, and check runs on each.
    """
    try:
        environment().parse(source)
        # parse() accepts unknown filters; compiling resolves them.
        environment().from_string(source)
    except TemplateSyntaxError as exc:
        return f"line {exc.lineno}: {exc.message}"
    except RecursionError:
        return "it nests too deeply for Jinja2 to compile (Python's recursion limit)"
    except (SyntaxError, ValueError, OverflowError, MemoryError) as exc:
        # Past Python's own limits: 20 nested blocks, a 4,300-digit literal.
        return f"{type(exc).__name__}: {exc}"
    return None
