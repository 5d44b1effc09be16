"""`render`: a template rendered as OnCall would, against sample alerts; or every
template of a Pulumi program, under Pulumi's mocks. No API call, no stack needed.

    python -m pulumi_oncall render --type alertmanager --template '{{ payload.status }}'
    python -m pulumi_oncall render --type alertmanager --as resolve_signal \\
        --template '{{ payload.status == "resolved" }}' --sample resolved
    python -m pulumi_oncall render --program [--cwd DIR]
    python -m pulumi_oncall render --routes routes.json --type alertmanager
"""

from __future__ import annotations

import argparse
import json
import os
import runpy
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from .. import _render_worker
from .. import _routing as routing
from .. import _template_checks as template_checks
from .._exceptions import SampleError
from .._rendering import (
    BOUND_CONSEQUENCE,
    CUT_MARK,
    KINDS,
    Rendered,
    builtin_samples,
    builtin_types,
    limit_for,
    pick,
    read_json,
    read_sample_file,
    verdict,
)

if TYPE_CHECKING:
    from pulumi.runtime import Mocks


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
        help="render every template of the Pulumi program in --cwd against its samples, "
        "and route them",
    )
    what.add_argument(
        "--routes",
        type=Path,
        metavar="FILE",
        help="route the samples through the routes in a JSON file: a list of routes, or "
        "an object with `routes` (and optionally `default_route`)",
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
        if args.routes is not None:
            return _render_routes(args)
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
    samples = _samples(args)
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


def _samples(args: argparse.Namespace) -> list[Any]:
    if args.payload:
        return [s for path in args.payload for s in read_sample_file(path)]
    if args.type:
        samples = builtin_samples(args.type)
        if not samples:
            raise SampleError(
                f"type {args.type!r} has no built-in samples (those that do: "
                f"{', '.join(builtin_types())}); give --payload FILE"
            )
        return samples
    raise SampleError("give --type TYPE (its built-in samples) or --payload FILE")


def _render_routes(args: argparse.Namespace) -> int:
    """Route the samples through a routing table from a file, as OnCall would."""
    path: Path = args.routes
    table = routing.read_table(read_json(path), path.name)
    samples = _samples(args)
    expectations = routing.resolve_expectations(table.routes, samples)
    labels = _pairs(args.label, "--label")
    routed, found = template_checks.check_routes(
        path.name, table.routes, samples, expectations, labels
    )
    chosen = {s.name for s in pick(samples, args.sample)}
    for r in routed:
        if r.sample.name in chosen:
            print(f"--- sample {r.sample.describe()}")
            print(f"==> {routing.describe(table.routes, r, table.default_chain)}")
    if found:
        print("findings:")
        print("\n".join(f"  - {f.text(path.name, 'routes file')}" for f in found))
    else:
        print("no findings")
    return 1 if found else 0


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
        findings += len(report.all_findings)
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
    if report.routes is not None and report.samples:
        lines.append("-- routes")
        for routed in report.routed:
            if routed.sample.name in chosen:
                lines.append(f"--- sample {routed.sample.describe()}")
                line = routing.describe(report.routes, routed, report.default_chain)
                lines.append(f"==> {line}")
    if report.all_findings:
        lines.append("findings:")
        lines += [f"  - {f.text(report.integration)}" for f in report.all_findings]
    else:
        lines.append("no findings")
    return "\n".join(lines) + "\n"


def _format_item(item: Any) -> list[str]:
    lines = [f"--- sample {item.sample.describe()}", format_rendered(item.result)]
    line = verdict(item.template.kind, item.result)
    return lines + ([f"==> {line}"] if line else [])
