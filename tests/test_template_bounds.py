"""Templates can neither hang nor exhaust memory: compiling runs nothing of them, and
each render is held to a time, memory and size bound, in a process of its own.

Each level is driven as users reach it: `compile_error`, the provider's `check`, the
emulator over HTTP, template checks, and the `render` command as a subprocess. A
call that should return promptly runs with a generous deadline, so that a
regression fails the test instead of hanging the suite.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from emulator_http import call
from emulator_seed import TOKEN

from pulumi_oncall import _render_worker
from pulumi_oncall import _rendering as rendering
from pulumi_oncall._provider import IntegrationProvider
from pulumi_oncall._rendering import Sample, render
from pulumi_oncall._template_checks import check
from pulumi_oncall._templating import collect_give_ups, compile_error

REPO = Path(__file__).parents[1]
T = TypeVar("T")

# The defect report's templates: constant, then on the payload.
CONSTANT_REGEX = "{{ ('a' * 40 + 'b') | regex_search('(a+)+$') }}"
CONSTANT_HUGE = "{{ 'a' * 10**9 }}"
PAYLOAD_REGEX = "{{ payload.msg | regex_search('(a+)+$') }}"
PAYLOAD_HUGE = "{{ payload.msg * 10**8 }}"
HOSTILE = (CONSTANT_REGEX, CONSTANT_HUGE, PAYLOAD_REGEX, PAYLOAD_HUGE)
MSG = {"msg": "a" * 40 + "b"}

# A pattern the regex module does backtrack on: it gives up after its 2 s.
GIVES_UP = "{{ payload.msg | regex_search('(a|aa)+$') }}"
CONSTANT_GIVES_UP = "{{ '" + "a" * 40 + "b' | regex_search('(a|aa)+$') }}"


def loops(tag: str) -> str:
    """A template that loops at the Python level for far longer than any bound; its own
    for each test, since one that ran past the bound is not rendered again."""
    return (
        "{# "
        + tag
        + " #}{% for i in [0] * 100000 %}{% for j in [0] * 100000 %}{% endfor %}{% endfor %}"
    )


# Each string under the size bound, all of them far over the memory bound.
def hoards(count: int) -> str:
    """Keeps `count` strings of 9 MB each, and renders how many."""
    return (
        "{% set ns = namespace(keep=[]) %}{% for i in [0] * " + str(count) + " %}"
        "{% if ns.keep.append('x' * 9000000) %}{% endif %}{% endfor %}{{ ns.keep | length }}"
    )


TOO_BIG = "builds a string of {:,} characters, over the 10,000,000 that a render may build"


def promptly(run: Callable[[], T], seconds: float = 20) -> T:
    """run() in a thread; fails when it is still running after `seconds`."""
    outcome: list[Any] = []

    def target() -> None:
        try:
            outcome.append(("ok", run()))
        except BaseException as exc:  # handed to the test below
            outcome.append(("raised", exc))

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still running after {seconds} s"
    kind, value = outcome[0]
    if kind == "raised":
        raise value
    return value  # type: ignore[no-any-return]


# --- compiling ------------------------------------------------------------------------


@pytest.mark.parametrize("template", HOSTILE)
def test_compile_error_takes_the_reported_templates_promptly(template: str) -> None:
    assert promptly(lambda: compile_error(template), seconds=10) is None


@pytest.mark.parametrize(
    "template",
    [
        CONSTANT_GIVES_UP,
        "{% autoescape " + CONSTANT_GIVES_UP[3:-3] + " %}x{% endautoescape %}",
        "{% if " + CONSTANT_GIVES_UP[3:-3] + " %}x{% endif %}",
    ],
)
def test_compile_error_runs_nothing_of_the_template(template: str) -> None:
    # Jinja would fold the constant filter call: the regex would run and give up.
    gave_up = collect_give_ups()
    assert compile_error(template) is None
    assert gave_up == []


@pytest.mark.parametrize(
    ("template", "reason"),
    [
        (
            "{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}",
            "it nests too deeply for Jinja2 to compile",
        ),
        ("{% for a in b %}" * 25 + "{% endfor %}" * 25, "SyntaxError: too many statically nested"),
        ("{{ 1" + "0" * 5000 + " }}", "ValueError: Exceeds the limit (4300 digits)"),
    ],
)
def test_compile_error_explains_what_python_cannot_compile(template: str, reason: str) -> None:
    error = promptly(lambda: compile_error(template))
    assert error is not None and error.startswith(reason), error


def test_provider_check_takes_hostile_templates_promptly(emulator: Any) -> None:
    provider = IntegrationProvider()
    provider.configure_from({"oncall:url": emulator.url, "oncall:token": TOKEN}.get, {})
    templates = {
        "grouping_key": PAYLOAD_HUGE,
        "resolve_signal": CONSTANT_REGEX,
        "web": {"title": CONSTANT_HUGE, "message": PAYLOAD_REGEX},
    }
    news = {"type": "webhook", "name": "hostile", "templates": templates}
    assert promptly(lambda: provider.check({}, news)).failures == []

    deep = {**news, "templates": {"slack": {"title": "{{ " + "[" * 400 + "]" * 400 + " }}"}}}
    (failure,) = promptly(lambda: provider.check({}, deep)).failures
    assert failure.property == "templates.slack.title"
    assert "nests too deeply for Jinja2 to compile" in failure.reason


def test_the_emulator_answers_a_hostile_post_promptly(emulator: Any) -> None:
    body = {
        "type": "webhook",
        "name": "hostile",
        "templates": {
            "grouping_key": CONSTANT_HUGE,
            "resolve_signal": CONSTANT_REGEX,
            "slack": {"title": PAYLOAD_HUGE, "message": PAYLOAD_REGEX},
        },
    }
    # emulator_http's client gives up after 10 s: the old compile took 16 s for one.
    response = call(emulator, "POST", "/api/v1/integrations/", body, token=TOKEN)
    assert response.status_code == 201, response.text
    assert response.json()["templates"]["grouping_key"] == CONSTANT_HUGE


# --- rendering --------------------------------------------------------------------------


def test_the_reported_templates_render_promptly_with_a_clear_result() -> None:
    assert promptly(lambda: render(CONSTANT_REGEX, {})).text == "False"
    assert promptly(lambda: render(PAYLOAD_REGEX, MSG)).text == "False"
    huge = promptly(lambda: render(CONSTANT_HUGE, {}))
    assert (huge.text, huge.severity, huge.problem) == (None, "bound", TOO_BIG.format(10**9))
    assert promptly(lambda: render(PAYLOAD_HUGE, MSG)).problem == TOO_BIG.format(41 * 10**8)


def test_a_regex_that_gives_up_yields_none_as_on_oncall_and_says_so() -> None:
    result = promptly(lambda: render(GIVES_UP, MSG))
    assert (result.ok, result.text) == (True, "None")
    assert result.notes == (
        "regex_search gave up after 2 s, as OnCall's would, so it yields None there",
    )


def test_an_invalid_pattern_is_a_template_error_as_on_the_engine() -> None:
    result = render("{{ 'x' | regex_search('(') }}", {})
    assert (result.severity, result.problem) == ("error", "regex.error: missing ) at position 1")


def test_a_render_past_the_time_bound_is_stopped_and_not_run_again() -> None:
    template = loops("time bound")
    first = promptly(lambda: render(template, {}), seconds=60)
    assert (first.text, first.severity) == (None, "bound")
    assert first.problem == "stopped after 5 s: pulumi-oncall bounds each render to 5 s"
    again = promptly(lambda: render(template, {"other": "payload"}), seconds=60)
    assert again.problem == (
        "not rendered: it ran past pulumi-oncall's 5 s bound on an earlier render"
    )
    # A new render process took over.
    assert render("{{ payload.a }}", {"a": 1}).text == "1"


def test_a_render_past_the_memory_bound_fails_and_frees_what_it_took() -> None:
    result = promptly(lambda: render(hoards(300), {}), seconds=60)
    assert (result.severity, result.problem) == (
        "bound",
        "needs more than 1 GiB of memory: pulumi-oncall bounds each render to 1 GiB",
    )
    # 450 MB more fit in the same process: the failed render's memory is back.
    assert promptly(lambda: render(hoards(50), {}), seconds=60).text == "50"


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ("{{ [0] * 10**9 }}", "builds a list of 1,000,000,000 items"),
        ("{{ 'x'.ljust(10**9) }}", TOO_BIG.format(10**9)),
        ("{{ 'x' | center(10**9) }}", TOO_BIG.format(10**9)),
        ("{{ '%1000000000s' % 'x' }}", "builds a string of 1,000,000,01"),
        ("{{ '{:>1000000000}'.format('x') }}", TOO_BIG.format(10**9)),
        ("{{ '%s%s' | format('x' * 9000000, 'y' * 9000000) }}", TOO_BIG.format(18_000_004)),
        ("{{ ('a' * 100000) | replace('a', 'bb' * 100) }}", TOO_BIG.format(20_000_000)),
        ("{{ ('a' * 1000) | join('x' * 100000) }}", TOO_BIG.format(99_901_000)),
        ("{{ ('a' * 1000) | batch(10**9, 0) | list }}", "builds a list of 1,000,000,000 items"),
        ("{{ lipsum(10**6) }}", TOO_BIG.format(1_200_000_000)),
        ("{{ 10 ** 1000000 }}", "computes a number of 1,000,001 digits, over the 100,000"),
        (
            "{% set ns = namespace(x='ab') %}"
            "{% for i in [0] * 64 %}{% set ns.x = ns.x ~ ns.x %}{% endfor %}",
            TOO_BIG.format(16_777_216),
        ),
        (
            "{% for i in [0] * 1000 %}{{ 'x' * 100000 }}{% endfor %}",
            "builds a text of over 10,000,000 characters, the most that a render may build",
        ),
    ],
)
def test_what_a_render_may_build_is_checked_before_it_is_built(template: str, problem: str) -> None:
    result = promptly(lambda: render(template, {}))
    assert result.severity == "bound", result
    assert (result.problem or "").startswith(problem), result.problem


def test_the_same_operations_within_bounds_render_as_before() -> None:
    template = (
        "{{ 'ab' * 3 }} {{ 2 ** 10 }} {{ '%05d' % 42 }} {{ '{:>4}'.format('x') }} "
        "{{ [1, 2] | join(',') }} {{ 'a\nb' | indent(2) }} {{ 'abc' | replace('b', 'XX') }} "
        "{{ 'x' ~ 1 }} {{ [1, 2, 3] | slice(2) | list }} {{ [1, 2, 3] | batch(2, 0) | list }} "
        "{{ 'x' | center(5) }}|{{ '%(a)s-%(a)s' % {'a': 'q'} }} {{ 'a\tb'.expandtabs(2) }}"
    )
    assert render(template, {}).text == (
        "ababab 1024 00042    x 1,2 a\n  b aXXc x1 [[1, 2], [3]] [[1, 2], [3, 0]]   x  |q-q a b"
    )


def _render_in_thread(run: Callable[[], T]) -> tuple[threading.Thread, list[T]]:
    results: list[T] = []
    thread = threading.Thread(target=lambda: results.append(run()), daemon=True)
    thread.start()
    return thread, results


def _child_in_long_render() -> int:
    """The pid of the render process, once one render has held it for a second.

    The quick renders before the long one take microseconds, so a render still under
    way a second later is the long one, however the job orders them.
    """
    deadline = time.monotonic() + 30
    seen: tuple[int, bytes] | None = None
    while time.monotonic() < deadline:
        child = _render_worker._renderer._child
        if child is None:
            seen = None
            time.sleep(0.02)
            continue
        key = os.pread(child.slot.fileno(), _render_worker._SLOT, 0).rstrip(b"\0")
        now = (child.popen.pid, key)
        if now[1] and now == seen:
            return now[0]
        seen = now if now[1] else None
        time.sleep(1 if seen else 0.02)
    raise AssertionError("no long render started")


def test_a_crashed_render_process_is_named_and_replaced_and_the_job_goes_on() -> None:
    template = loops("crash")
    samples = [Sample("first", MSG), Sample("second", MSG)]
    templates = {"grouping_key": "{{ payload.msg }}", "web": {"message": template}}
    thread, reports = _render_in_thread(
        lambda: check("crash", type_="webhook", templates=templates, samples=samples)
    )
    os.kill(_child_in_long_render(), signal.SIGKILL)
    thread.join(60)
    assert not thread.is_alive()
    results = {(r.template.path, r.sample.name): r.result for r in reports[0].renderings}
    assert results["templates.grouping_key", "first"].text == MSG["msg"]
    assert results["templates.grouping_key", "second"].text == MSG["msg"]
    assert results["templates.web.message", "first"].problem == (
        "pulumi-oncall's render process was killed by SIGKILL"
    )
    # Rendered by the new process, until its own bound.
    assert results["templates.web.message", "second"].problem == (
        "stopped after 5 s: pulumi-oncall bounds each render to 5 s"
    )


def test_a_render_process_that_cannot_start_fails_the_renders_not_the_caller(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_render_worker, "_renderer", _render_worker._Renderer())
    monkeypatch.setattr(sys, "executable", str(REPO / "no-such-python"))
    (result,) = _render_worker.render_each([("{{ 1 }}", {}, None, None, 100)])
    assert (result.ok, result.severity) == (False, "bound")
    assert (result.problem or "").startswith("pulumi-oncall's render process failed: ")
    assert "no-such-python" in (result.problem or "")


def test_the_render_process_imports_no_pulumi() -> None:
    render("{{ 1 }}", {})
    modules = set(_render_worker.worker_modules())
    assert {"jinja2", "regex", "pulumi_oncall._rendering", "pulumi_oncall._templating"} <= modules
    assert not {m for m in modules if m.split(".")[0] in ("pulumi", "yaml", "grpc")}


def _render_processes_of(parent: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == parent and b"_render_worker" in cmdline:
            found.append(int(entry.name))
    return found


def _gone(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc")
def test_a_render_never_outlives_the_process_that_asked_for_it() -> None:
    # The parent starts a render that loops, and is killed while it runs.
    script = (
        "import threading, time\n"
        "from pulumi_oncall._rendering import render\n"
        "render('{{ 1 }}', {})\n"
        f"threading.Thread(target=render, args=({loops('parent')!r}, {{}}), daemon=True).start()\n"
        "print('rendering', flush=True)\n"
        "time.sleep(60)\n"
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", script], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    try:
        assert parent.stdout is not None and parent.stdout.readline() == "rendering\n"
        (child,) = _render_processes_of(parent.pid)
    finally:
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
    deadline = time.monotonic() + 30
    while not _gone(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _gone(child)


# --- template checks --------------------------------------------------------------------


def test_template_checks_report_each_bound_as_a_finding() -> None:
    samples = [Sample("long msg", MSG), Sample("other msg", {"msg": "b" * 41})]
    templates = {
        "grouping_key": PAYLOAD_HUGE,
        "resolve_signal": PAYLOAD_REGEX,
        "source_link": CONSTANT_HUGE,
        "web": {"title": CONSTANT_REGEX, "message": loops("checks")},
    }
    report = promptly(
        lambda: check("hostile", type_="webhook", templates=templates, samples=samples),
        seconds=60,
    )
    costly = "a template this costly would weigh on OnCall at every alert"
    found = [f.text("hostile") for f in report.findings]
    assert found == [
        f"integration 'hostile': templates.grouping_key on all 2 samples: "
        f"{TOO_BIG.format(41 * 10**8)}; {costly}",
        f"integration 'hostile': templates.source_link on all 2 samples: "
        f"{TOO_BIG.format(10**9)}; {costly}",
        "integration 'hostile': templates.web.message on sample 'long msg': stopped after 5 s: "
        f"pulumi-oncall bounds each render to 5 s; {costly}",
        "integration 'hostile': templates.web.message on sample 'other msg': not rendered: it "
        "ran past pulumi-oncall's 5 s bound on sample 'long msg' of integration 'hostile'; "
        f"{costly}",
    ]


def test_template_checks_report_a_regex_that_gives_up() -> None:
    report = check(
        "slow", type_="webhook", templates={"web": {"title": GIVES_UP}}, samples=[Sample("s", MSG)]
    )
    assert [f.text("slow") for f in report.findings] == [
        "integration 'slow': templates.web.title on sample 's': regex_search gave up after 2 s, "
        "as OnCall's would, so it yields None there: renders 'None'"
    ]


# --- the `render` command ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "code", "output"),
    [
        (CONSTANT_REGEX, 0, "False\n"),
        (PAYLOAD_REGEX, 0, "False\n"),
        (CONSTANT_HUGE, 1, f"[render stopped] {TOO_BIG.format(10**9)}\n"),
        (PAYLOAD_HUGE, 1, f"[render stopped] {TOO_BIG.format(41 * 10**8)}\n"),
        (
            GIVES_UP,
            1,
            "None\n[regex_search gave up after 2 s, as OnCall's would, so it yields None there]\n",
        ),
    ],
)
def test_render_command_finishes_with_a_clear_output(
    tmp_path: Path, template: str, code: int, output: str
) -> None:
    (tmp_path / "p.json").write_text(json.dumps(MSG))
    proc = subprocess.run(
        [sys.executable, "-m", "pulumi_oncall", "render", "--payload", str(tmp_path / "p.json"),
         "--template", template],
        cwd=REPO, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == code, proc.stdout + proc.stderr
    assert proc.stdout.startswith("--- sample 'p.json'\n" + output), proc.stdout


def test_builtin_samples_and_bounds_meet_in_one_job() -> None:
    # A bound hit on one sample leaves the other samples' renders as they are.
    samples = rendering.builtin_samples("alertmanager")
    report = check(
        "am",
        type_="alertmanager",
        templates={"grouping_key": "{{ payload.groupKey }}", "web": {"title": CONSTANT_HUGE}},
        samples=samples,
    )
    keys = [r.result.text for r in report.renderings if r.template.kind == "grouping_key"]
    assert len(keys) == len(samples) and all(keys)
    assert [f.template for f in report.findings] == ["templates.web.title"]
