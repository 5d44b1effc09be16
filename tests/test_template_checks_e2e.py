"""End to end: template findings in a real `pulumi preview`, and `render --program`.

The checks run in the program; the emulator's request log shows they call no API.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

from e2e_support import REPO, OnCall, Project
from pulumi_env import run_pulumi

FLAWED: dict[str, Any] = {
    "am": {
        "type": "alertmanager",
        "templates": {
            "grouping_key": "{{ payload.receiver }}",
            "resolve_signal": "{{ payload.status }}",
            "slack": {"title": "{{ payload.alerts[0].annotations.runbook_url.split('/') | last }}"},
        },
    },
    "sound": {
        "type": "grafana_alerting",
        "templates": {
            "grouping_key": "{{ payload.groupKey }}",
            "resolve_signal": '{{ payload.status == "resolved" }}',
        },
    },
}


def preview(project: Project, oncall: OnCall) -> subprocess.CompletedProcess[str]:
    oncall.clear_requests()
    proc = project.run("preview", check=False)
    assert oncall.api_requests() == []
    return proc


def test_preview_warns_naming_integration_template_and_sample(
    project: Project, oncall: OnCall
) -> None:
    project.spec(FLAWED)
    proc = preview(project, oncall)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert (
        "warning: integration 'am': templates.resolve_signal on samples 'KubePodCrashLooping "
        "resolved', 'NodeFilesystemAlmostFull resolved': not a resolve signal on the resolved "
        "alert: renders 'resolved'"
    ) in out
    assert (
        "warning: integration 'am': templates.grouping_key on all 4 samples: renders the same "
        "key 'oncall-platform' for different alerts"
    ) in out
    assert (
        "warning: integration 'am': templates.slack.title on samples 'NodeFilesystemAlmostFull "
        "firing', 'NodeFilesystemAlmostFull resolved': fails to render: UndefinedError"
    ) in out
    # Under the resource in the diagnostics, and nothing about the sound integration.
    assert "pulumi-python:dynamic/oncall:Integration (am):" in out
    assert "integration 'sound'" not in out


def test_strict_fails_the_preview_with_the_findings_and_no_traceback(
    project: Project, oncall: OnCall
) -> None:
    project.spec(FLAWED)
    project.run("config", "set", "oncall:templateChecks", "strict")
    proc = preview(project, oncall)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out
    assert "error: integration 'am': templates.resolve_signal" in out
    assert "error: integration 'am': templates.slack.title" in out
    assert (
        "error: 3 template findings on 'am' (shown on each integration) and "
        "oncall:templateChecks is strict"
    ) in out
    assert "Traceback" not in out


def test_strict_passes_sound_templates_and_user_samples_from_a_file(
    project: Project, oncall: OnCall
) -> None:
    (project.dir / "alerts").mkdir()
    (project.dir / "alerts" / "deploys.json").write_text(
        json.dumps(
            {
                "oncall_samples": [
                    {"alert": "d1", "state": "firing", "payload": {"id": "d1", "s": "failed"}},
                    {"alert": "d1", "state": "resolved", "payload": {"id": "d1", "s": "ok"}},
                    {"alert": "d2", "state": "firing", "payload": {"id": "d2", "s": "failed"}},
                ]
            }
        )
    )
    deploys = {
        "type": "webhook",
        "template_samples": ["alerts/deploys.json"],
        "templates": {"grouping_key": "{{ payload.id }}", "resolve_signal": "{{ payload.s }}"},
    }
    project.spec({"sound": FLAWED["sound"], "deploys": deploys})
    project.run("config", "set", "oncall:templateChecks", "strict")
    proc = preview(project, oncall)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "integration '" not in proc.stdout + proc.stderr

    # The same templates against the built-in webhook samples: "alerting" is no signal
    # and the built-in alerts have no `id`.
    project.spec({"deploys": {k: v for k, v in deploys.items() if k != "template_samples"}})
    proc = preview(project, oncall)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert (
        "error: integration 'deploys': templates.grouping_key on all 3 samples: renders empty"
        in out
    )


def _render_processes_in(directory: Path) -> list[int]:
    """Render processes still running with `directory` as their working directory."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            cwd = (entry / "cwd").resolve()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if cwd == directory.resolve() and b"_render_worker" in cmdline:
            found.append(int(entry.name))
    return found


def test_a_hostile_template_is_a_finding_and_the_preview_returns(
    project: Project, oncall: OnCall
) -> None:
    loop = "{% for i in [0] * 100000 %}{% for j in [0] * 100000 %}{% endfor %}{% endfor %}"
    hostile = {
        "type": "webhook",
        "template_samples": [{"msg": "a" * 40 + "b"}],
        "templates": {
            "grouping_key": "{{ payload.msg * 10**8 }}",
            "resolve_signal": "{{ payload.msg | regex_search('(a+)+$') }}",
            "web": {"title": "{{ 'a' * 10**9 }}", "message": loop},
            "sms": {"title": "{{ ('a' * 40 + 'b') | regex_search('(a+)+$') }}"},
        },
    }
    project.spec({"hostile": hostile})
    oncall.clear_requests()
    # A hang would end at this timeout, not at the suite's.
    proc = run_pulumi(["preview"], project.dir, project.env, check=False, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert oncall.api_requests() == []
    where = "warning: integration 'hostile': templates.{} on sample 'template_samples[0]': "
    too_big = "builds a string of {} characters, over the 10,000,000 that a render may build"
    assert where.format("grouping_key") + too_big.format("4,100,000,000") in out
    assert where.format("web.title") + too_big.format("1,000,000,000") in out
    assert (
        where.format("web.message")
        + "stopped after 5 s: pulumi-oncall bounds each render to 5 s; a template this costly "
        "would weigh on OnCall at every alert"
    ) in out, out
    # The regex filters answer (no match): nothing to report on them.
    assert "templates.resolve_signal" not in out and "templates.sms.title" not in out
    # The program's render process ended with it.
    deadline = time.monotonic() + 30
    while _render_processes_in(project.dir) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _render_processes_in(project.dir) == []


def test_empty_template_samples_fail_the_program_with_the_fix(
    project: Project, oncall: OnCall
) -> None:
    project.spec({"deploys": {"type": "webhook", "template_samples": []}})
    proc = preview(project, oncall)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert (
        "integration 'deploys': template_samples: the list is empty, so no template would be "
        "checked: give at least one payload or JSON file, or omit template_samples to use the "
        "type's built-in samples"
    ) in out
    assert "Traceback" not in out


def test_off_stays_quiet_and_a_bad_mode_is_refused(project: Project, oncall: OnCall) -> None:
    project.spec(FLAWED)
    project.run("config", "set", "oncall:templateChecks", "off")
    proc = preview(project, oncall)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "integration 'am'" not in proc.stdout + proc.stderr
    assert "warning" not in proc.stdout + proc.stderr

    project.run("config", "set", "oncall:templateChecks", "loud")
    proc = preview(project, oncall)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "oncall:templateChecks is 'loud'; it takes warn (the default), strict or off" in out
    assert "Traceback" not in out


def test_render_program_prints_every_template_without_a_stack(tmp_path: Path) -> None:
    program = tmp_path / "prog"
    program.mkdir()
    (program / "Pulumi.yaml").write_text("name: render-demo\nruntime: python\n")
    (program / "Pulumi.dev.yaml").write_text(
        "config:\n  render-demo:team: storefront\n  oncall:token:\n    secure: AAABAAAA\n"
    )
    (program / "deploy.json").write_text(
        '{"oncall_samples": [{"name": "deploy ok", "state": "resolved", '
        '"payload": {"id": "d1", "s": "ok"}}]}'
    )
    (program / "__main__.py").write_text(
        textwrap.dedent(
            """
            import pulumi
            from pulumi_oncall import Integration

            team = pulumi.Config().require("team")
            am = Integration("am", type="alertmanager", templates={
                "resolve_signal": '{{ payload.status == "resolved" }}',
                "slack": {"title": "[" + team + "] {{ payload.commonLabels.alertname }}"},
            })
            Integration("deploys", type="webhook", template_samples=["deploy.json"], templates={
                "resolve_signal": "{{ payload.s }}",
                "web": {"title": am.name.apply(lambda n: n + ": {{ payload.id.x.y }}")},
            })
            """
        )
    )
    proc = subprocess.run(
        [sys.executable, "-m", "pulumi_oncall", "render", "--program", "--cwd", str(program),
         "--stack", "dev", "--sample", "resolved"],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stdout + proc.stderr  # one finding
    assert proc.stdout.startswith(
        "== integration 'am' (alertmanager): built-in alertmanager samples\n"
        "-- templates.resolve_signal\n"
        "--- sample 'KubePodCrashLooping resolved' (resolved, alert crashloop-payments)\n"
        "True\n"
        "==> resolve_signal: yes, OnCall would resolve the alert group\n"
    )
    assert "[storefront] KubePodCrashLooping\n" in proc.stdout
    assert "== integration 'deploys' (webhook): template_samples\n" in proc.stdout
    assert "--- sample 'deploy ok' (resolved)\nok\n==> resolve_signal: yes" in proc.stdout
    assert (
        "  - integration 'deploys': templates.web.title on sample 'deploy ok': fails to render: "
        "UndefinedError: 'str object' has no attribute 'x'"
    ) in proc.stdout


def test_a_later_preview_takes_the_renders_from_the_cache(
    project: Project, oncall: OnCall, tmp_path: Path
) -> None:
    cache = tmp_path / "render-cache"
    project.env["PULUMI_ONCALL_RENDER_CACHE"] = str(cache)
    project.spec({"sound": FLAWED["sound"]})
    first = preview(project, oncall)
    assert first.returncode == 0 and "warning: integration" not in first.stdout + first.stderr
    (entry,) = cache.glob("*.json")
    # Rewritten to say that every grouping key renders empty: the next preview says so,
    # so it read the entry and rendered nothing.
    kept = json.loads(entry.read_text())
    entry.write_text(json.dumps({k: ["", None, None, 0, w[4], []] for k, w in kept.items()}))
    second = preview(project, oncall)
    assert "templates.grouping_key on all 3 samples: renders empty" in second.stdout, second.stdout
    # A damaged entry is rendered again, and replaced.
    entry.write_text("{")
    third = preview(project, oncall)
    assert "warning: integration" not in third.stdout + third.stderr
    assert json.loads(entry.read_text()) == kept
