"""Rendering templates as OnCall's engine does, sample alerts, and the `render` command.

    python -m pulumi_oncall render --type alertmanager --template '{{ payload.status }}'
    python -m pulumi_oncall render --type alertmanager --as resolve_signal \\
        --template '{{ payload.status == "resolved" }}' --sample resolved
    python -m pulumi_oncall render --program [--cwd DIR]

How the engine renders: a sandboxed Jinja2 environment with OnCall's filters, the
alert's JSON body as `payload` and its labels as `labels`. Syntax, security and
assertion errors are template errors; TypeError, KeyError, ValueError and
UndefinedError while rendering are warnings; either way the alert falls back to
the default rendering. A template over 50,000 characters is not rendered, a result
over 50,000 characters (500 for titles) is cut and ends with `..`. Signals count
only when the text, stripped and lower-cased, is `1`, `true` or `ok`. The grouping
key is hashed; an empty one (or one that fails) gets a random key.

Renders run in a child process (`_render_worker`) that holds each to a time and a
memory bound; `templating` bounds what a render may build. A render that hits a
bound is a failure of severity `bound` whose problem names the bound.

Imports nothing of Pulumi at module level: the render process imports this module.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from jinja2 import Template, TemplateAssertionError, TemplateSyntaxError, UndefinedError
from jinja2.exceptions import SecurityError

from ._exceptions import SampleError
from ._templating import REGEX_TIMEOUT, RenderBoundError, collect_give_ups, environment

if TYPE_CHECKING:
    pass

TEMPLATE_MAX_LENGTH = 50_000
RESULT_MAX_LENGTH = 50_000
TITLE_MAX_LENGTH = 500
SIGNAL_TEXTS = ("1", "true", "ok")
CUT_MARK = ".."

Severity = Literal["error", "warning", "bound"]


@dataclass(frozen=True)
class Rendered:
    """What OnCall makes of one template for one alert."""

    text: str | None
    """The result as OnCall keeps it (cut to the limit), or None when rendering failed."""
    problem: str | None = None
    """Why rendering failed, e.g. `UndefinedError: 'dict object' has no attribute 'x'`."""
    severity: Severity | None = None
    """`error` (template error), `warning` (render warning), or `bound` (it hit one of
    pulumi-oncall's bounds on time, memory or size) when it failed."""
    length: int = 0
    """Length of the full result, before any cut."""
    limit: int = RESULT_MAX_LENGTH
    notes: tuple[str, ...] = ()
    """What went wrong without failing it: a regex filter that gave up after 2 s."""

    @property
    def ok(self) -> bool:
        return self.text is not None

    @property
    def cut(self) -> bool:
        return self.ok and self.length > self.limit


def render(
    template: str,
    payload: Any,
    *,
    labels: Mapping[str, Any] | None = None,
    context: Mapping[str, Any] | None = None,
    limit: int = RESULT_MAX_LENGTH,
) -> Rendered:
    """Render `template` for an alert with body `payload`, as the engine does.

    In the render process, within its bounds.
    """
    from . import _render_worker

    return _render_worker.render_each([(template, payload, labels, context, limit)])[0]


def render_in_process(
    template: str,
    payload: Any,
    *,
    labels: Mapping[str, Any] | None = None,
    context: Mapping[str, Any] | None = None,
    limit: int = RESULT_MAX_LENGTH,
) -> Rendered:
    """`render` here, bounded in size but not in time or memory: the render process's."""
    if len(template) > TEMPLATE_MAX_LENGTH:
        return Rendered(
            None,
            f"the template is {len(template):,} characters, over OnCall's "
            f"{TEMPLATE_MAX_LENGTH:,} limit",
            "error",
            limit=limit,
        )
    variables = {**(context or {}), "payload": payload, "labels": dict(labels or {})}
    gave_up = collect_give_ups()
    try:
        text = _compiled(template).render(**variables)
    except RenderBoundError as exc:
        return Rendered(None, str(exc), "bound", limit=limit)
    except (SecurityError, TemplateAssertionError, TemplateSyntaxError) as exc:
        return Rendered(None, _describe(exc), "error", limit=limit)
    except (TypeError, KeyError, ValueError, UndefinedError) as exc:
        return Rendered(None, _describe(exc), "warning", limit=limit)
    except MemoryError:
        raise  # the render process reports its memory bound
    except Exception as exc:  # the engine also takes anything else as a template error
        return Rendered(None, _describe(exc), "error", limit=limit)
    length = len(text)
    if length > limit:
        text = text[:limit] + CUT_MARK
    notes = tuple(
        f"{name} gave up after {REGEX_TIMEOUT} s, as OnCall's would, so it yields None there"
        for name in gave_up
    )
    return Rendered(text, length=length, limit=limit, notes=notes)


@lru_cache(maxsize=2048)
def _compiled(template: str) -> Template:
    # A large stack renders the same few templates thousands of times.
    return environment().from_string(template)


def _describe(exc: BaseException) -> str:
    name = type(exc).__name__
    if name == "error":  # regex.error, re.error: say whose
        name = f"{type(exc).__module__.split('.')[0]}.error"
    return f"{name}: {exc}"


def is_signal(text: str | None) -> bool:
    """Whether OnCall takes a rendered resolve/acknowledge signal as true."""
    return text is not None and text.strip().lower() in SIGNAL_TEXTS


def grouping_hash(text: str | None) -> str | None:
    """The group OnCall files the alert under; None when it draws a random one."""
    if not text:
        return None
    return hashlib.md5(text.encode()).hexdigest()


# --- Sample alerts -----------------------------------------------------------------

STATES = ("firing", "resolved", "acknowledged")
SAMPLE_SET_KEY = "oncall_samples"
SAMPLE_KEYS = frozenset({"name", "alert", "state", "payload", "route"})


EMPTY_SAMPLES = (
    "the list is empty, so no template would be checked: give at least one payload or "
    "JSON file, or omit template_samples to use the type's built-in samples"
)


@dataclass(frozen=True)
class Sample:
    """An alert payload to render templates against, with what is known about it."""

    name: str
    payload: Any
    state: str | None = None
    """`firing`, `resolved` or `acknowledged`; None for a plain payload."""
    alert: str | None = None
    """Which alert it belongs to: samples of one alert must group together."""
    route: str | int | None = None
    """Where it must land: a route's name, its index, or `default`; None: anywhere."""

    def describe(self) -> str:
        facts = [f for f in (self.state, self.alert and f"alert {self.alert}") if f]
        return f"{self.name!r}" + (f" ({', '.join(facts)})" if facts else "")


def _samples_dir() -> Any:
    return resources.files("pulumi_oncall").joinpath("samples")


def builtin_types() -> list[str]:
    """Integration types that come with built-in samples."""
    return sorted(
        entry.name.removesuffix(".json")
        for entry in _samples_dir().iterdir()
        if entry.name.endswith(".json")
    )


def builtin_samples(type_: str) -> list[Sample]:
    """The built-in samples of an integration type; empty when it has none."""
    return list(_builtin_samples(type_))


@cache
def _builtin_samples(type_: str) -> tuple[Sample, ...]:
    # Read once per process: a large program checks many integrations of one type.
    entry = _samples_dir().joinpath(f"{type_}.json")
    if not type_ or not entry.is_file():
        return ()
    document = json.loads(entry.read_text(encoding="utf-8"))
    return tuple(parse_samples(document, f"built-in {type_}"))


def parse_samples(document: Any, origin: str) -> list[Sample]:
    """Samples in a JSON value: a sample set, a list of payloads, or one payload.

    A sample set is an object with an `oncall_samples` list, each entry holding
    `payload` and optionally `name`, `state`, `alert` and `route` (where it must
    land: a route's name, its index, or `default`). Anything else is taken as
    it is: an alert payload with no metadata (a list: one payload per item).
    """
    if isinstance(document, Mapping) and SAMPLE_SET_KEY in document:
        entries = document[SAMPLE_SET_KEY]
        if not isinstance(entries, list) or not entries:
            raise SampleError(f"{origin}: `{SAMPLE_SET_KEY}` must be a non-empty list")
        return [_sample_entry(entry, f"{origin}#{i + 1}") for i, entry in enumerate(entries)]
    if isinstance(document, list):
        if not document:
            raise SampleError(f"{origin}: an empty list holds no payload to render against")
        return [Sample(f"{origin}#{i + 1}", item) for i, item in enumerate(document)]
    return [Sample(origin, document)]


def _sample_entry(entry: Any, origin: str) -> Sample:
    if not isinstance(entry, Mapping) or "payload" not in entry:
        raise SampleError(f"{origin}: each entry of `{SAMPLE_SET_KEY}` needs a `payload`")
    unknown = sorted(set(entry) - SAMPLE_KEYS)
    if unknown:
        raise SampleError(
            f"{origin}: unknown key(s) {', '.join(map(repr, unknown))}; "
            f"an entry takes {', '.join(sorted(SAMPLE_KEYS))}"
        )
    state = entry.get("state")
    if state is not None and state not in STATES:
        raise SampleError(f"{origin}: state {state!r} is not one of {', '.join(STATES)}")
    for key in ("name", "alert"):
        if entry.get(key) is not None and not isinstance(entry[key], str):
            raise SampleError(f"{origin}: `{key}` must be a string")
    route = entry.get("route")
    if route is not None:
        problem = _route_problem(route)
        if problem:
            raise SampleError(f"{origin}: {problem}")
    return Sample(
        name=entry.get("name") or origin,
        payload=entry["payload"],
        state=state,
        alert=entry.get("alert"),
        route=route,
    )


def _route_problem(value: Any) -> str | None:
    """Why an entry's `route` cannot say where the sample must land, or None."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return (
            "`route` must be a route's name, its index (0 for routes[0]) or 'default'; "
            f"got {type(value).__name__}"
        )
    if isinstance(value, int) and value < 0:
        return f"`route` {value} is not an index: routes count from 0"
    if isinstance(value, str) and not value.strip():
        return "`route` is empty: give a route's name, its index or 'default'"
    return None


def load_samples(entries: Sequence[Any], base: Path) -> list[Sample]:
    """The samples a user gave: payload dicts or paths of JSON files (relative to `base`)."""
    if isinstance(entries, (str, bytes)) or not isinstance(entries, Sequence):
        raise SampleError("give a list of payloads (dicts) or of JSON file paths")
    if not entries:
        raise SampleError(EMPTY_SAMPLES)
    samples: list[Sample] = []
    for i, entry in enumerate(entries):
        if isinstance(entry, Mapping):
            samples += parse_samples(dict(entry), f"template_samples[{i}]")
        elif isinstance(entry, (str, Path)):
            samples += read_sample_file(base / entry)
        else:
            raise SampleError(
                f"template_samples[{i}] is a {type(entry).__name__}; give a payload dict "
                "or the path of a JSON file (plain values: Outputs are not read)"
            )
    return samples


def read_json(path: Path) -> Any:
    """The JSON document in a file of samples or routes; SampleError when unreadable."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SampleError(f"cannot read {path}: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise SampleError(f"{path} is not valid JSON: {exc}") from None


def read_sample_file(path: Path) -> list[Sample]:
    return parse_samples(read_json(path), path.name)


def pick(samples: list[Sample], which: str | None) -> list[Sample]:
    """`firing`, `resolved`, `acknowledged`, a sample's name, or None for all."""
    if which is None:
        return samples
    chosen = [s for s in samples if which in (s.state, s.name)]
    if not chosen:
        names = ", ".join(repr(s.name) for s in samples)
        raise SampleError(f"no sample is {which!r}; the samples are {names}")
    return chosen


# --- The templates of one integration, rendered for one sample --------------------

# What group templates see besides payload and labels; the values stand in for the
# alert group's, which only exist once OnCall received the alert.
SAMPLE_LINK = "https://oncall.example.com/alert-groups/I1SAMPLE"
WEB_ATTRS = ("title", "message", "image_url")


@dataclass(frozen=True)
class Declared:
    """One declared template."""

    path: str
    """Where it is declared: `templates.slack.title`, `dynamic_labels.severity`."""
    kind: str
    """What it is for, one of KINDS."""
    source: str
    group: str | None = None

    @property
    def limit(self) -> int:
        return limit_for(self.kind) if self.group is not None else RESULT_MAX_LENGTH


# Renders template number `index` of the declared list.
RenderOne = Callable[[int, str, Any, Mapping[str, Any], Mapping[str, Any] | None, int], Rendered]


def render_order(declared: Sequence[Declared]) -> list[int]:
    """Dynamic labels first (the others see them), then the top-level templates (the
    groups see `source_link`), then the groups, in the order given (web first)."""
    labels = [i for i, t in enumerate(declared) if t.kind == "dynamic_label"]
    top = [i for i, t in enumerate(declared) if t.group is None and t.kind != "dynamic_label"]
    groups = [i for i, t in enumerate(declared) if t.group is not None]
    return labels + top + groups


def render_sample(
    integration: str,
    declared: Sequence[Declared],
    payload: Any,
    static: Mapping[str, Any],
    render_one: RenderOne,
) -> dict[int, Rendered]:
    """Every declared template for one alert, each seeing what OnCall gives it."""
    results: dict[int, Rendered] = {}
    alert_labels = dict(static)
    source_link: str | None = None
    web: dict[str, str] = {}
    context: dict[str, Any] = {
        "integration_name": integration,
        "grafana_oncall_link": SAMPLE_LINK,
        "amixr_link": SAMPLE_LINK,
        "grafana_oncall_alert_group_id": 1,
        "grafana_oncall_incident_id": 1,
        "amixr_incident_id": 1,
        "grafana_oncall_alert_group_status": "firing",
    }
    for index in render_order(declared):
        template = declared[index]
        if template.kind == "dynamic_label":
            result = render_one(index, template.source, payload, static, None, template.limit)
            if result.ok and result.text and result.text.strip():
                alert_labels[template.path.split(".", 1)[1]] = result.text
        elif template.group is None:
            result = render_one(index, template.source, payload, alert_labels, None, template.limit)
            if template.kind == "source_link" and result.ok:
                source_link = result.text
        else:
            extra = {}
            if template.group != "web":
                extra = {
                    f"web_{attr}": web.get(attr, f"(the default web {attr})") for attr in WEB_ATTRS
                }
            group_context = {**context, "source_link": source_link, **extra}
            result = render_one(
                index, template.source, payload, alert_labels, group_context, template.limit
            )
            if template.group == "web":
                web[template.kind] = result.text if result.ok and result.text else ""
        results[index] = result
    return results


# What a template is for decides its limit and the verdict printed under it.
KINDS = (
    "grouping_key",
    "resolve_signal",
    "acknowledge_signal",
    "source_link",
    "title",
    "message",
    "image_url",
    "dynamic_label",
)


def limit_for(kind: str) -> int:
    return TITLE_MAX_LENGTH if kind == "title" else RESULT_MAX_LENGTH


def verdict(kind: str, rendered: Rendered) -> str | None:
    """One line on what OnCall does with the result, for the kinds where it decides."""
    if kind in ("resolve_signal", "acknowledge_signal"):
        what = kind.replace("_signal", "")
        if not rendered.ok:
            return f"{kind}: no (a template that fails is never a signal)"
        if is_signal(rendered.text):
            return f"{kind}: yes, OnCall would {what} the alert group"
        return f"{kind}: no, OnCall counts only 1, true or ok (stripped, any case)"
    if kind == "grouping_key":
        key = grouping_hash(rendered.text)
        if key is None:
            return "grouping_key: none, OnCall draws a random key: the alert opens its own group"
        return f"grouping_key: group {key}"
    return None


BOUND_CONSEQUENCE = "a template this costly would weigh on OnCall at every alert"
