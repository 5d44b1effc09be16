"""End to end: routing findings in a real `pulumi preview`, and `render --program`.

One stack shows every kind of finding at once; the emulator's request log shows that
routing the samples calls no API.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from e2e_support import REPO, SPEC_PROGRAM, OnCall, Project

SAMPLES = {
    "oncall_samples": [
        {"name": "db down", "route": "db", "payload": {"team": "db", "severity": "critical"}},
        {"name": "web down", "route": "crit", "payload": {"team": "web", "severity": "critical"}},
        {"name": "api slow", "route": "default", "payload": {"team": "api", "severity": "warn"}},
    ]
}
ROUTES = [
    {"name": "compact", "routing_regex": '"team":"api"'},
    {"name": "owner", "routing_type": "jinja2", "routing_regex": "{{ payload.team }}"},
    {"name": "broken", "routing_type": "jinja2", "routing_regex": "{{ payload.x.y }}"},
    {"name": "crit", "routing_regex": "critical"},
    {"name": "db", "routing_type": "jinja2", "routing_regex": '{{ payload.team == "db" }}'},
]
SPEC = {
    "api": {
        "type": "webhook",
        "template_samples": ["alerts.json"],
        "routes": ROUTES,
    }
}
# With chains, which the provider looks up at preview: for `render --program` only.
CHAINED = {
    "api": {
        **SPEC["api"],
        "routes": [{**r, "escalation_chain_id": "FCRIT"} if r["name"] == "crit" else r
                   for r in ROUTES],
        "default_route": {"escalation_chain_id": "FDEF"},
    }
}  # fmt: skip
WHERE = "integration 'api': routes[{}] ('{}')"
FINDINGS = [
    WHERE.format(0, "compact") + " on sample 'api slow': matches no sample as OnCall writes "
    "the JSON, but would match the sample's JSON written without spaces after ',' and ':'",
    WHERE.format(1, "owner") + " on all 3 samples: renders 'db', 'web', 'api', which OnCall "
    "never takes",
    WHERE.format(2, "broken") + " on all 3 samples: fails to render (UndefinedError: 'dict "
    "object' has no attribute 'x'): OnCall skips the route",
    WHERE.format(4, "db") + " on sample 'db down': shadowed on the samples: every sample it "
    "matches is taken first by routes[3] ('crit')",
    WHERE.format(4, "db") + " on sample 'db down': the sample is expected here, and matches "
    "it, but lands on routes[3] ('crit'), which comes first",
]


def preview(project: Project, oncall: OnCall) -> str:
    oncall.clear_requests()
    proc = project.run("preview", check=False)
    assert oncall.api_requests() == []
    return f"rc={proc.returncode}\n{proc.stdout}{proc.stderr}"


def test_routing_findings_at_preview_in_each_mode_without_an_api_call(
    project: Project, oncall: OnCall
) -> None:
    (project.dir / "alerts.json").write_text(json.dumps(SAMPLES))
    project.spec(SPEC)

    out = preview(project, oncall)
    assert out.startswith("rc=0\n"), out
    for finding in FINDINGS:
        assert f"warning: {finding}" in out, out
    assert "pulumi-python:dynamic/oncall:Integration (api):" in out

    project.run("config", "set", "oncall:templateChecks", "strict")
    out = preview(project, oncall)
    assert not out.startswith("rc=0\n"), out
    for finding in FINDINGS:
        assert f"error: {finding}" in out, out
    assert (
        "error: 5 routing findings on 'api' (shown on each integration) and "
        "oncall:templateChecks is strict. Fix the routes, give the integration "
        "template_samples that match its alerts, or set oncall:templateChecks to warn."
    ) in out
    assert "Traceback" not in out

    # An expectation that names no route stops the program with the fix.
    (project.dir / "alerts.json").write_text(
        json.dumps({"oncall_samples": [{"route": "dbb", "payload": {}}]})
    )
    out = preview(project, oncall)
    assert not out.startswith("rc=0\n"), out
    assert (
        "integration 'api': template_samples: sample 'alerts.json#1' expects route 'dbb', "
        "but no route of the integration has that name; name one of 'compact', 'owner', "
        "'broken', 'crit', 'db'"
    ) in out
    assert "Traceback" not in out

    (project.dir / "alerts.json").write_text(json.dumps(SAMPLES))
    project.spec(SPEC)
    project.run("config", "set", "oncall:templateChecks", "off")
    out = preview(project, oncall)
    assert out.startswith("rc=0\n"), out
    assert "integration 'api'" not in out and "warning" not in out


def test_render_program_names_the_route_each_sample_takes(tmp_path: Path) -> None:
    # No stack: render runs the program under mocks.
    program = tmp_path / "prog"
    shutil.copytree(SPEC_PROGRAM, program, ignore=shutil.ignore_patterns("__pycache__"))
    (program / "Pulumi.yaml").write_text("name: routing\nruntime: python\n")
    (program / "alerts.json").write_text(json.dumps(SAMPLES))
    (program / "spec.json").write_text(json.dumps(CHAINED))
    proc = subprocess.run(
        [sys.executable, "-m", "pulumi_oncall", "render", "--program", "--cwd", str(program),
         "--config", f"specFile={program / 'spec.json'}"],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert (
        "== integration 'api' (webhook): template_samples\n"
        "-- routes\n"
        "--- sample 'db down'\n"
        "==> routes[3] ('crit'), escalation chain FCRIT (expected: routes[4] ('db'))\n"
        "--- sample 'web down'\n"
        "==> routes[3] ('crit'), escalation chain FCRIT (as expected)\n"
        "--- sample 'api slow'\n"
        "==> default route, escalation chain FDEF (as expected)\n"
        "findings:\n"
    ) in proc.stdout
    for finding in FINDINGS:
        assert f"  - {finding}" in proc.stdout
