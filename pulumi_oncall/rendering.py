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

import argparse
import hashlib
import json
import os
import runpy
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

from jinja2 import Template, TemplateAssertionError, TemplateSyntaxError, UndefinedError
from jinja2.exceptions import SecurityError

from .templating import REGEX_TIMEOUT, RenderBoundError, collect_give_ups, environment

if TYPE_CHECKING:
    from pulumi.runtime import Mocks

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
SAMPLE_KEYS = frozenset({"name", "alert", "state", "payload"})


EMPTY_SAMPLES = (
    "the list is empty, so no template would be checked: give at least one payload or "
    "JSON file, or omit template_samples to use the type's built-in samples"
)


class SampleError(ValueError):
    """A sample that cannot be used; the message says which and why."""


@dataclass(frozen=True)
class Sample:
    """An alert payload to render templates against, with what is known about it."""

    name: str
    payload: Any
    state: str | None = None
    """`firing`, `resolved` or `acknowledged`; None for a plain payload."""
    alert: str | None = None
    """Which alert it belongs to: samples of one alert must group together."""

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
    `payload` and optionally `name`, `state` and `alert`. Anything else is taken as
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
    return Sample(
        name=entry.get("name") or origin,
        payload=entry["payload"],
        state=state,
        alert=entry.get("alert"),
    )


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


def read_sample_file(path: Path) -> list[Sample]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SampleError(f"cannot read {path}: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise SampleError(f"{path} is not valid JSON: {exc}") from None
    return parse_samples(document, path.name)


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


# --- The `render` command ----------------------------------------------------------

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


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.description = (
        "Render a template as OnCall would, against a type's built-in sample alerts or "
        "your own payload; or render every template a Pulumi program declares. No API "
        "call, no stack needed."
    )
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--template", help="the Jinja2 template text")
    what.add_argument("--template-file", type=Path, help="a file holding the template")
    what.add_argument(
        "--program",
        action="store_true",
        help="render every template of the Pulumi program in --cwd against its samples",
    )
    parser.add_argument(
        "--type",
        help=f"integration type whose built-in samples to use ({', '.join(builtin_types())})",
    )
    parser.add_argument(
        "--as",
        dest="kind",
        choices=KINDS,
        default="message",
        help="what the template is for: sets the length limit (500 for title) and, for "
        "signals and grouping_key, prints OnCall's verdict (default: message)",
    )
    parser.add_argument(
        "--payload",
        type=Path,
        action="append",
        help="a JSON file: one payload, a list of payloads, or a sample set (repeatable)",
    )
    parser.add_argument(
        "--sample",
        metavar="WHICH",
        help="only the samples that are firing, resolved, acknowledged, or have this name",
    )
    parser.add_argument(
        "--label",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an alert label, available as labels.KEY (repeatable)",
    )
    parser.add_argument(
        "--cwd", type=Path, default=Path.cwd(), help="with --program: the Pulumi project"
    )
    parser.add_argument(
        "--stack",
        help="with --program: read the plain config of Pulumi.STACK.yaml (secrets are not read)",
    )
    parser.add_argument(
        "--config",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="with --program: a config value for the program (repeatable)",
    )


def run(args: argparse.Namespace, extra: list[str]) -> int:
    if extra:
        print("render: takes no arguments after --", file=sys.stderr)
        return 2
    try:
        if args.program:
            config = _pairs(args.config, "--config")
            return render_program(args.cwd.resolve(), args.stack, config, args.sample)
        return _render_one(args)
    except SampleError as exc:
        print(f"render: {exc}", file=sys.stderr)
        return 2


def _pairs(items: list[str], flag: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SampleError(f"{flag} takes KEY=VALUE, not {item!r}")
        pairs[key] = value
    return pairs


def _render_one(args: argparse.Namespace) -> int:
    if args.template_file is not None:
        try:
            template = args.template_file.read_text(encoding="utf-8")
        except OSError as exc:
            raise SampleError(f"cannot read {args.template_file}: {exc.strerror}") from None
    else:
        template = args.template
    if args.payload:
        samples = [s for path in args.payload for s in read_sample_file(path)]
    elif args.type:
        samples = builtin_samples(args.type)
        if not samples:
            raise SampleError(
                f"type {args.type!r} has no built-in samples (those that do: "
                f"{', '.join(builtin_types())}); give --payload FILE"
            )
    else:
        raise SampleError("give --type TYPE (its built-in samples) or --payload FILE")
    from . import _render_worker

    labels = _pairs(args.label, "--label")
    chosen = pick(samples, args.sample)
    limit = limit_for(args.kind)
    results = _render_worker.render_each(
        [(template, sample.payload, labels, None, limit) for sample in chosen],
        places=[f"sample {sample.name!r}" for sample in chosen],
    )
    failed = False
    for sample, rendered in zip(chosen, results, strict=True):
        print(f"--- sample {sample.describe()}")
        print(format_rendered(rendered))
        line = verdict(args.kind, rendered)
        if line:
            print(f"==> {line}")
        failed = failed or not rendered.ok or bool(rendered.notes)
    return 1 if failed else 0


BOUND_CONSEQUENCE = "a template this costly would weigh on OnCall at every alert"


def format_rendered(rendered: Rendered) -> str:
    if rendered.severity == "bound":
        return f"[render stopped] {rendered.problem}\n({BOUND_CONSEQUENCE})"
    if not rendered.ok:
        kind = "template error" if rendered.severity == "error" else "render warning"
        return f"[{kind}] {rendered.problem}\n(OnCall falls back to the default rendering)"
    text = rendered.text or ""
    if rendered.cut:
        text += (
            f"\n[cut: the result is {rendered.length:,} characters; OnCall keeps "
            f"{rendered.limit:,} and appends {CUT_MARK}]"
        )
    for note in rendered.notes:
        text += f"\n[{note}]"
    return text


# --- `render --program` ------------------------------------------------------------


def render_program(
    cwd: Path, stack: str | None, config: Mapping[str, str], which: str | None
) -> int:
    """Run the program under Pulumi's mocks and print what every template renders.

    No engine, no stack and no API: resources are registered with mocks, so values
    computed from other resources are not known and their templates are skipped.
    """
    import pulumi
    import yaml

    from . import template_checks

    try:
        project = yaml.safe_load((cwd / "Pulumi.yaml").read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise SampleError(f"{cwd} has no readable Pulumi.yaml ({exc.strerror})") from None
    name = str(project.get("name") or "project")
    program = cwd / str(project.get("main") or "")
    if program.is_dir():
        program = program / "__main__.py"
    if not program.is_file():
        raise SampleError(f"no program at {program}")

    values = _stack_config(cwd, name, stack) if stack else {}
    values.update({k if ":" in k else f"{name}:{k}": v for k, v in config.items()})
    pulumi.runtime.set_all_config(values, [])
    pulumi.runtime.set_mocks(_mocks(), project=name, stack=stack or "render", preview=True)

    reports: list[template_checks.Report] = []

    def execute() -> None:
        runpy.run_path(str(program), run_name="__main__")

    # Runs the program, then waits for every output, as the engine's host does.
    run_program = cast(Callable[[], None], pulumi.runtime.test(execute))  # type: ignore[no-untyped-call]

    previous = Path.cwd()
    os.chdir(cwd)
    sys.path.insert(0, str(program.parent))
    try:
        with template_checks.collecting(reports.append):
            run_program()
    except pulumi.RunError as exc:
        raise SampleError(f"the program failed: {exc}") from None
    finally:
        sys.path.remove(str(program.parent))
        os.chdir(previous)

    findings = 0
    for report in reports:
        findings += len(report.findings)
        print(_format_report(report, which))
    if not reports:
        print("the program declares no integrations")
    return 1 if findings else 0


def _mocks() -> Mocks:
    from pulumi.runtime import MockCallArgs, MockResourceArgs, Mocks

    class _Mocks(Mocks):
        """Registers every resource with its inputs as outputs; invokes return nothing."""

        def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict[Any, Any]]:
            return f"{args.name}-id", dict(args.inputs)

        def call(self, args: MockCallArgs) -> tuple[dict[Any, Any], list[tuple[str, str]] | None]:
            return {}, None

    return _Mocks()


def _stack_config(cwd: Path, project: str, stack: str) -> dict[str, str]:
    import yaml

    path = cwd / f"Pulumi.{stack}.yaml"
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise SampleError(f"cannot read {path} ({exc.strerror})") from None
    values: dict[str, str] = {}
    for key, value in (document.get("config") or {}).items():
        if isinstance(value, Mapping) and "secure" in value:
            continue
        full = key if ":" in key else f"{project}:{key}"
        values[full] = value if isinstance(value, str) else json.dumps(value)
    return values


def _format_report(report: Any, which: str | None) -> str:
    lines = [f"== integration {report.integration!r} ({report.type}): {report.samples_from}"]
    chosen = {s.name for s in report.samples if which is None or which in (s.state, s.name)}
    by_template: dict[str, list[Any]] = {}
    for item in report.renderings:
        if item.sample.name in chosen:
            by_template.setdefault(item.template.path, []).append(item)
    for path, items in by_template.items():
        lines.append(f"-- {path}")
        for item in items:
            lines += _format_item(item)
    for path in report.unknown:
        lines.append(f"-- {path}: not known without a deployment (from another resource); skipped")
    if not report.samples:
        lines.append("(no samples for this type: templates are only compile-checked)")
    if report.findings:
        lines.append("findings:")
        lines += [f"  - {f.text(report.integration)}" for f in report.findings]
    else:
        lines.append("no findings")
    return "\n".join(lines) + "\n"


def _format_item(item: Any) -> list[str]:
    lines = [f"--- sample {item.sample.describe()}", format_rendered(item.result)]
    line = verdict(item.template.kind, item.result)
    return lines + ([f"==> {line}"] if line else [])
