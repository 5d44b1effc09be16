"""Template findings at preview: rendering declared templates against sample alerts,
and routing the samples through the declared routes (`_routing`).

Runs in the program, not the provider: a dynamic provider's `check` can only fail,
it has no warning channel, while the program can attach warnings to the resource
with `pulumi.log`. The stack setting `oncall:templateChecks` picks the mode: `warn`
(the default), `strict` (findings fail the run) or `off`.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from pulumi.output import Unknown

from . import _program_checks as program_checks
from . import _render_worker
from . import _rendering as rendering
from . import _routing as routing
from . import _schema as schema
from ._exceptions import ExpectationError, SampleError
from ._rendering import Declared, Rendered, Sample

CONFIG_KEY = "oncall:templateChecks"
MODES = ("warn", "strict", "off")
DEFAULT_MODE = "warn"


@dataclass(frozen=True)
class Rendering:
    template: Declared
    sample: Sample
    result: Rendered


@dataclass(frozen=True)
class Finding:
    template: str
    problem: str
    samples: tuple[str, ...] = ()
    every_sample: bool = False
    """True when it happens on every sample (they are then not listed)."""

    def text(self, integration: str, what: str = "integration") -> str:
        where = ""
        if self.every_sample and len(self.samples) > 1:
            where = f" on all {len(self.samples)} samples"
        elif self.samples:
            noun = "sample" if len(self.samples) == 1 else "samples"
            where = f" on {noun} " + ", ".join(repr(s) for s in self.samples)
        return f"{what} {integration!r}: {self.template}{where}: {self.problem}"


@dataclass
class Report:
    integration: str
    type: str | None
    samples: list[Sample]
    samples_from: str
    renderings: list[Rendering] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    """Templates whose value is not known yet (computed from another resource)."""
    routes: list[routing.Route] | None = None
    """The declared routes, None when there are none to simulate."""
    routed: list[routing.Routed] = field(default_factory=list)
    """Where each sample lands, when there are routes."""
    routing_findings: list[Finding] = field(default_factory=list)
    default_chain: Any = None

    @property
    def all_findings(self) -> list[Finding]:
        return self.findings + self.routing_findings


def declared_templates(templates: Any, dynamic_labels: Any) -> tuple[list[Declared], list[str]]:
    """The templates to render, and the paths of those whose value is not known yet."""
    found: list[Declared] = []
    unknown: list[str] = []

    def take(path: str, kind: str, value: Any, group: str | None = None) -> None:
        if isinstance(value, Unknown):
            unknown.append(path)
        elif isinstance(value, str) and value:
            # An empty template is the server's default, like a missing one.
            found.append(Declared(path, kind, value, group))

    def visit(node: schema.Node, value: Any, path: str, group: str | None) -> None:
        if isinstance(value, Unknown):
            unknown.append(path)
        elif node.kind == "template" and node.render_as is not None:
            take(path, node.render_as, value, group)
        elif node.kind == "object" and isinstance(value, Mapping):
            # Fields first, then groups, the web group first: the others see its results.
            for child in sorted(node.children, key=lambda c: (c.kind == "object", c.name != "web")):
                inner = group if group is not None or child.kind != "object" else child.name
                visit(child, value.get(child.name), f"{path}.{child.name}", inner)

    visit(schema.TEMPLATES, templates, "templates", None)
    if isinstance(dynamic_labels, Unknown):
        unknown.append("dynamic_labels")
    elif isinstance(dynamic_labels, Mapping):
        for key, value in dynamic_labels.items():
            take(f"dynamic_labels.{key}", "dynamic_label", value)
    return found, unknown


def check(
    integration: str,
    *,
    type_: str | None,
    templates: Any,
    dynamic_labels: Any = None,
    labels: Any = None,
    samples: list[Sample] | None = None,
    quote: bool = True,
    routes: Any = None,
    default_chain: Any = None,
) -> Report:
    """Render every declared template against the samples and collect the findings;
    route the samples through `routes` (as declared) and collect those findings.

    `samples` None means the type's built-in ones. `quote` False keeps rendered text
    out of the findings (the templates are secret). An expectation that names no
    route raises `ExpectationError`.
    """
    given = [type_, templates, dynamic_labels, labels, samples, quote, routes, default_chain]
    # Values that do not serialise (an Unknown) make a key that no other check shares.
    key = json.dumps(given, sort_keys=True, default=repr)
    if "integration_name" in key:
        key = json.dumps([integration, key])
    clean = _clean.get(key)
    if clean is not None:
        return dataclasses.replace(clean, integration=integration)
    report = _check(integration, type_, templates, dynamic_labels, labels, samples, quote, routes,
                    default_chain)  # fmt: skip
    if not report.all_findings:
        # Findings can name the integration (a bound hit on its render): never shared.
        _clean[key] = report
    return report


# Reports without findings, by everything `check` reads but the integration's name: the
# integrations of a program that share templates, labels, samples and routes are
# checked once.
_clean: dict[str, Report] = {}


def _check(
    integration: str,
    type_: str | None,
    templates: Any,
    dynamic_labels: Any,
    labels: Any,
    samples: list[Sample] | None,
    quote: bool,
    routes: Any,
    default_chain: Any,
) -> Report:
    if samples is None:
        samples = rendering.builtin_samples(type_) if type_ else []
        samples_from = f"built-in {type_} samples" if samples else "no samples"
    else:
        samples_from = "template_samples"
    declared, unknown = declared_templates(templates, dynamic_labels)
    report = Report(integration, type_, samples, samples_from, unknown=unknown)
    route_list, routes_unknown = routing.declared_routes(routes, lambda v: isinstance(v, Unknown))
    expectations: list[routing.Expectation] = []
    if routes_unknown:
        report.unknown.append("routes")
    elif route_list is not None or routes is None:
        # Malformed routes are the provider check's to report, not a missing route.
        expectations = routing.resolve_expectations(route_list, samples)
    report.routes, report.default_chain = route_list, default_chain
    if isinstance(default_chain, Unknown):
        report.default_chain = routing.UNKNOWN_CHAIN
    jinja_routes = [r.as_declared() for r in route_list or [] if r.type == "jinja2"]
    route_at = {r.path: r.index for r in route_list or []}
    problems: list[tuple[str, str, str | None]] = []

    renderable = []
    for template in declared:
        if len(template.source) > rendering.TEMPLATE_MAX_LENGTH:
            problems.append(
                (
                    template.path,
                    f"the template is {len(template.source):,} characters; OnCall does not "
                    f"render templates over {rendering.TEMPLATE_MAX_LENGTH:,} (a template error "
                    "on every alert)",
                    None,
                )
            )
        else:
            renderable.append(template)

    static = {
        k: v for k, v in (labels if isinstance(labels, Mapping) else {}).items() if _is_scalar(v)
    }
    # One job for the render process: every template and Jinja2 route for every sample.
    rendered = _render_worker.render_samples(
        integration, renderable + jinja_routes, samples, static, keep=quote
    )
    route_results: list[dict[int, Rendered]] = []
    for sample, results in zip(samples, rendered, strict=True):
        route_results.append({})
        for template, result in results:
            if template.kind == routing.KIND:
                route_results[-1][route_at[template.path]] = result
                continue
            report.renderings.append(Rendering(template, sample, result))
            problems += [
                (template.path, p, sample.name) for p in _problems(template, sample, result, quote)
            ]
    problems += _grouping_problems(report.renderings, quote)
    # In the order the templates are declared, as the user reads them.
    order = {t.path: i for i, t in enumerate(declared)}
    problems.sort(key=lambda p: order.get(p[0], -1))
    report.findings = _merge(problems, len(samples))
    if route_list is not None:
        report.routed = routing.simulate(route_list, samples, route_results, expectations)
        report.routing_findings = _merge(
            routing.problems(route_list, report.routed, quote), len(samples)
        )
    return report


def check_routes(
    name: str,
    routes: list[routing.Route],
    samples: list[Sample],
    expectations: list[routing.Expectation],
    labels: Mapping[str, Any],
) -> tuple[list[routing.Routed], list[Finding]]:
    """A routing table on its own: where each sample lands, and the findings."""
    jinja = [r.as_declared() for r in routes if r.type == "jinja2"]
    at = {r.path: r.index for r in routes}
    rendered = _render_worker.render_samples(name, jinja, samples, labels)
    results = [{at[t.path]: result for t, result in per_sample} for per_sample in rendered]
    routed = routing.simulate(routes, samples, results, expectations)
    return routed, _merge(routing.problems(routes, routed), len(samples))


def _is_scalar(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool)) and not isinstance(value, Unknown)


def _consequence(kind: str) -> str:
    if kind == "grouping_key":
        return "OnCall then draws a random key: the alert opens a group of its own"
    if kind in ("resolve_signal", "acknowledge_signal"):
        return "OnCall does not take the alert as a signal"
    if kind == "dynamic_label":
        return "OnCall cannot compute this label for the alert"
    return "the alert falls back to the default rendering"


def _quote(text: str | None, quote: bool) -> str:
    if not quote:
        return "(text not shown: the templates are secret)"
    text = text or ""
    return repr(text if len(text) <= 60 else text[:57] + "...")


def _problems(template: Declared, sample: Sample, result: Rendered, quote: bool) -> list[str]:
    kind = template.kind
    if result.severity == "bound":
        return [f"{result.problem}; {rendering.BOUND_CONSEQUENCE}"]
    if not result.ok:
        label = "template error" if result.severity == "error" else "fails to render"
        return [f"{label}: {result.problem}; {_consequence(kind)}"]
    problems = [f"{note}: renders {_quote(result.text, quote)}" for note in result.notes]
    if result.cut:
        problems.append(
            f"renders {result.length:,} characters; OnCall keeps the first "
            f"{result.limit:,} and appends '{rendering.CUT_MARK}'"
        )
    if kind in ("resolve_signal", "acknowledge_signal"):
        action = kind.split("_")[0]
        expected = "resolved" if action == "resolve" else "acknowledged"
        signal = rendering.is_signal(result.text)
        if sample.state == expected and not signal:
            problems.append(
                f"not a {action} signal on the {expected} alert: renders "
                f"{_quote(result.text, quote)}, and OnCall counts only 1, true or ok "
                '(stripped, any case); a comparison such as == "resolved" renders True'
            )
        elif sample.state == "firing" and signal:
            problems.append(
                f"{action}s on the firing alert (renders {_quote(result.text, quote)}): "
                f"every alert group would be {expected} as soon as it opens"
            )
    if kind == "grouping_key" and not result.text:
        problems.append(
            "renders empty: OnCall then draws a random key, so every alert opens a group "
            "of its own and a resolve never reaches its firing alert"
        )
    return problems


def _grouping_problems(
    renderings: list[Rendering], quote: bool
) -> list[tuple[str, str, str | None]]:
    keys = [
        r
        for r in renderings
        if r.template.kind == "grouping_key" and r.result.text and r.sample.alert is not None
    ]
    problems: list[tuple[str, str, str | None]] = []
    by_alert: dict[str, list[Rendering]] = {}
    by_key: dict[str, list[Rendering]] = {}
    for r in keys:
        by_alert.setdefault(r.sample.alert or "", []).append(r)
        by_key.setdefault(r.result.text or "", []).append(r)
    for alert, group in by_alert.items():
        texts = list(dict.fromkeys(r.result.text for r in group))
        if len(texts) > 1:
            shown = " vs ".join(_quote(t, quote) for t in texts)
            problems += [
                (
                    group[0].template.path,
                    f"renders differently for the samples of alert {alert!r} ({shown}): they "
                    "would land in separate groups, so the resolve would not close the firing "
                    "group",
                    r.sample.name,
                )
                for r in group
            ]
    for text, group in by_key.items():
        alerts = list(dict.fromkeys(r.sample.alert for r in group))
        if len(alerts) > 1:
            problems += [
                (
                    group[0].template.path,
                    f"renders the same key {_quote(text, quote)} for different alerts "
                    f"({', '.join(map(repr, alerts))}): OnCall would fold them into one "
                    "alert group",
                    r.sample.name,
                )
                for r in group
            ]
    return problems


def _merge(problems: list[tuple[str, str, str | None]], sample_count: int) -> list[Finding]:
    """One finding per template and problem, naming every sample it happens on."""
    merged: dict[tuple[str, str], list[str]] = {}
    for template, problem, sample in problems:
        names = merged.setdefault((template, problem), [])
        if sample is not None and sample not in names:
            names.append(sample)
    return [
        Finding(t, p, tuple(s), every_sample=len(s) == sample_count) for (t, p), s in merged.items()
    ]


# --- In the program ------------------------------------------------------------------


def mode() -> str:
    """The stack's `oncall:templateChecks`; an unknown value stops the program."""
    value = pulumi.Config("oncall").get("templateChecks")
    if value is None or not value.strip():
        return DEFAULT_MODE
    normalised = value.strip().lower()
    if normalised not in MODES:
        raise pulumi.RunError(
            f"{CONFIG_KEY} is {value!r}; it takes warn (the default), strict or off, "
            f"e.g. `pulumi config set {CONFIG_KEY} strict`"
        )
    return normalised


@dataclass
class _Strict:
    """Strict mode fails the run once, after every scheduled check has reported."""

    pending: int = 0
    findings: int = 0
    routing: int = 0
    integrations: list[str] = field(default_factory=list)


_strict = _Strict()
_sink: Callable[[Report], None] | None = None


@contextmanager
def collecting(sink: Callable[[Report], None]) -> Iterator[None]:
    """Hand reports to `sink` instead of logging them (the `render --program` command)."""
    global _sink
    previous, _sink = _sink, sink
    try:
        yield
    finally:
        _sink = previous


def schedule(
    resource: pulumi.Resource,
    *,
    type_: pulumi.Input[str],
    templates: pulumi.Input[Mapping[str, Any]] | None,
    dynamic_labels: pulumi.Input[Mapping[str, Any]] | None,
    samples: Sequence[Mapping[str, Any] | str] | None,
    labels: pulumi.Input[Mapping[str, Any]] | None = None,
    routes: pulumi.Input[Sequence[Any]] | None = None,
    default_route: pulumi.Input[Mapping[str, Any]] | None = None,
) -> None:
    """Once the values are known, render them, route the samples, and report findings
    on `resource`."""
    sink = _sink
    integration = resource.pulumi_resource_name
    if isinstance(samples, Sequence) and not isinstance(samples, (str, bytes)) and not samples:
        # Even with checks off: an empty list is a mistake, never a way to skip them.
        raise pulumi.RunError(
            f"integration {integration!r}: template_samples: {rendering.EMPTY_SAMPLES}"
        )
    current = DEFAULT_MODE if sink is not None else mode()
    if current == "off":
        return
    try:
        user_samples = None if samples is None else rendering.load_samples(samples, Path.cwd())
    except SampleError as exc:
        raise pulumi.RunError(f"integration {integration!r}: template_samples: {exc}") from None
    strict = current == "strict"
    # Only what routing reads: a chain id not known yet must not hold up the checks.
    # The chains are shown by `render --program` only, where mocks know them.
    route_input = _routing_input(routes, chains=sink is not None)
    chain_input = _default_chain(default_route) if sink is not None else None

    def run(values: Sequence[Any], quote: bool = True) -> Report:
        type_value, templates_value, dynamic_value, labels_value, routes_value, chain = values
        try:
            return check(
                integration,
                type_=type_value if isinstance(type_value, str) else None,
                templates=templates_value,
                dynamic_labels=dynamic_value,
                labels=labels_value,
                samples=user_samples,
                quote=quote,
                routes=routes_value,
                default_chain=chain,
            )
        except ExpectationError as exc:
            raise pulumi.RunError(f"integration {integration!r}: template_samples: {exc}") from None

    plain = (type_, templates, dynamic_labels, labels, route_input, chain_input)
    if not any(program_checks.deferred(v) for v in plain):
        # Plain values (the common case) need no Output of their own.
        if sink is not None:
            sink(run(plain))
            return
        try:
            values = copy.deepcopy(plain)  # as declared, whatever the program does next
        except Exception:  # not copyable: checked here and now
            values = plain
            _later(resource, integration, _done(run(values)), strict)
            return
        _later(resource, integration, _checker.submit(run, values), strict)
        return
    inputs = pulumi.Output.all(resource.urn, *plain)
    if strict:
        _strict.pending += 1

    async def report(values: Any) -> None:
        if isinstance(values, Unknown):
            values = [None] + [values] * len(plain)
        result = run(values[1:], quote=not await inputs.is_secret())
        if sink is not None:
            sink(result)
            return
        log = pulumi.log.error if strict else pulumi.log.warn
        for finding in result.all_findings:
            log(finding.text(integration), resource=resource)
        # pulumi.log sends resource-attached messages from a task of its own: let them
        # go out before a strict failure can end the program.
        await asyncio.sleep(0)
        if strict:
            _fail_when_all_reported(integration, len(result.findings), len(result.routing_findings))

    # Nothing reads the result: the runtime waits for every output before it ends.
    _: pulumi.Output[None] = inputs.apply(report, run_with_unknowns=True)


def _routing_input(routes: Any, chains: bool) -> Any:
    """The fields of `routes` that routing reads (with `chains`, the chain ids too)."""
    keys = ("routing_regex", "routing_type", "name") + (("escalation_chain_id",) if chains else ())
    if isinstance(routes, (list, tuple)):
        return [{k: r.get(k) for k in keys} if isinstance(r, Mapping) else r for r in routes]
    return routes


def _default_chain(default_route: Any) -> Any:
    if isinstance(default_route, Mapping):
        return default_route.get("escalation_chain_id")
    return default_route.apply(_default_chain) if isinstance(default_route, pulumi.Output) else None


# Checks of plain values run on this thread, in order, while the program goes on
# declaring resources: the render process starts meanwhile, off its path.
_checker = ThreadPoolExecutor(1, thread_name_prefix="template-checks")


@dataclass
class _Pending:
    """The plain checks of one program run not reported yet, and who reports them."""

    loop: asyncio.AbstractEventLoop
    checks: list[tuple[pulumi.Resource, str, Future[Report], bool]] = field(default_factory=list)
    draining: bool = False


_pending: _Pending | None = None


def _done(report: Report) -> Future[Report]:
    future: Future[Report] = Future()
    future.set_result(report)
    return future


def _later(
    resource: pulumi.Resource, integration: str, check: Future[Report], strict: bool
) -> None:
    """Report `check` on `resource` when it is done; one Output drains them all."""
    global _pending
    loop = asyncio.get_event_loop()
    if _pending is None or _pending.loop is not loop:
        _pending = _Pending(loop)
    pending = _pending
    pending.checks.append((resource, integration, check, strict))
    if strict:
        _strict.pending += 1
    if pending.draining:
        return
    pending.draining = True

    async def drain() -> None:
        while pending.checks:
            resource, integration, check, strict = pending.checks.pop(0)
            result = await asyncio.wrap_future(check)
            if result.all_findings:
                # Registered first: the messages go under the resource, before any
                # strict failure can end the program.
                await resource.urn.future()
                log = pulumi.log.error if strict else pulumi.log.warn
                for finding in result.all_findings:
                    log(finding.text(integration), resource=resource)
                await asyncio.sleep(0)
            if strict:
                _fail_when_all_reported(
                    integration, len(result.findings), len(result.routing_findings)
                )
        pending.draining = False

    # Nothing reads the result: the runtime waits for every output before it ends.
    _: pulumi.Output[None] = pulumi.Output.from_input(drain())


def _fail_when_all_reported(integration: str, findings: int, routing_findings: int = 0) -> None:
    _strict.pending -= 1
    if findings or routing_findings:
        _strict.findings += findings
        _strict.routing += routing_findings
        _strict.integrations.append(integration)
    if _strict.pending or not (_strict.findings or _strict.routing):
        return
    count, routed = _strict.findings, _strict.routing
    names = ", ".join(map(repr, _strict.integrations))
    _strict.findings, _strict.routing, _strict.integrations = 0, 0, []
    what = [
        f"{n} {kind} finding{'s' if n != 1 else ''}"
        for n, kind in ((count, "template"), (routed, "routing"))
        if n
    ]
    fix = "the templates" if not routed else "the templates and routes" if count else "the routes"
    raise pulumi.RunError(
        f"{' and '.join(what)} on {names} (shown on each integration) and {CONFIG_KEY} is "
        f"strict. Fix {fix}, give the integration template_samples that match its alerts, "
        f"or set {CONFIG_KEY} to warn."
    )
