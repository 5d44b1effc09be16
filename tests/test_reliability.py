"""Deployments under injected faults and throttling converge, with nothing duplicated or lost.

Driven at provider level with four worker threads, like the engine's own parallelism:
what is under test here is the client and provider, and the engine adds nothing to it.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from e2e_support import Project
from emulator_seed import TEAM_PLATFORM, TOKEN
from pulumi_env import cli_bin_dir

from pulumi_oncall._provider import IntegrationProvider

WORKERS = 4


def spec(i: int, revision: str = "v1") -> dict[str, Any]:
    return {
        "type": "webhook" if i % 2 else "alertmanager",
        "name": f"svc-{i:03d}",
        "team_id": TEAM_PLATFORM if i % 3 == 0 else None,
        "description_short": f"service {i} {revision}",
        "templates": {
            "grouping_key": "{{ payload.id }}",
            "web": {"title": f"{revision} {{{{ x }}}}"},
        },
    }


def fresh_provider(url: str) -> IntegrationProvider:
    # These runs inject faults into a quarter of all requests, so six attempts (the
    # default) lose about one request in 2,500, and a run of several hundred requests
    # would fail now and then. They are about converging, not about the default budget.
    values = {"oncall:url": url, "oncall:token": TOKEN, "oncall:retryMaxAttempts": "12"}
    provider = IntegrationProvider()
    provider.configure_from(values.get, {})
    return provider


def live(emulator: Any) -> list[dict[str, Any]]:
    rows = emulator.admin("GET", "integrations")["integrations"]
    return [r for r in rows if not r.get("deleted")]


def assert_converged(
    emulator: Any, state: dict[str, dict[str, Any]], expected: dict[str, dict[str, Any]]
) -> None:
    """The server holds exactly the declared set, once each, and matches the state."""
    rows = live(emulator)
    names = Counter(r["name"] for r in rows)
    assert [n for n, c in names.items() if c > 1] == [], "duplicates"
    assert set(names) == {s["name"] for s in expected.values()}, "orphans or missing"
    by_id = {r["id"]: r for r in rows}
    assert set(by_id) == {s["integration_id"] for s in state.values()}
    for key, outs in state.items():
        remote = by_id[outs["integration_id"]]
        want = expected[key]
        assert remote["name"] == want["name"] and remote["type"] == want["type"]
        assert remote["description_short"] == want["description_short"] == outs["description_short"]
        assert remote["templates"]["web"]["title"] == want["templates"]["web"]["title"]


def deploy(provider: IntegrationProvider, count: int, emulator: Any) -> dict[str, dict[str, Any]]:
    """Create `count`, update all, delete a fifth: the engine's three kinds of step."""
    keys = [f"r{i}" for i in range(count)]
    with ThreadPoolExecutor(WORKERS) as pool:
        created = dict(
            zip(keys, pool.map(lambda i: provider.create(spec(i)), range(count)), strict=True)
        )
        state = {k: r.outs for k, r in created.items()}
        assert_converged(emulator, state, {k: spec(i) for i, k in enumerate(keys)})

        def update(i: int) -> dict[str, Any]:
            key = keys[i]
            return provider.update(created[key].id, state[key], spec(i, "v2")).outs

        state = dict(zip(keys, pool.map(update, range(count)), strict=True))
        doomed = keys[::5]
        list(pool.map(lambda k: provider.delete(state[k]["integration_id"], state[k]), doomed))
    for key in doomed:
        del state[key]
    expected = {k: spec(i, "v2") for i, k in enumerate(keys) if k in state}
    assert_converged(emulator, state, expected)
    return state


FAULTS = {
    "server-errors": {"fail_rate": 0.2, "fail_statuses": [500, 502, 503]},
    "latency": {"latency_ms": 40},
    "drop-before-processing": {"drop_before_rate": 0.2},
    "drop-after-commit": {"drop_after_rate": 0.2},
    "everything-at-once": {
        "fail_rate": 0.1,
        "drop_before_rate": 0.1,
        "drop_after_rate": 0.1,
        "latency_ms": 5,
    },
}


@pytest.mark.parametrize("faults", FAULTS.values(), ids=FAULTS.keys())
def test_fifty_integrations_converge_under_faults(emulator: Any, faults: dict[str, Any]) -> None:
    emulator.admin("PUT", "faults", faults)
    deploy(fresh_provider(emulator.url), 50, emulator)
    statuses = Counter(r["status"] for r in emulator.admin("GET", "requests")["requests"])
    if "fail_rate" in faults:
        assert statuses[500] + statuses[502] + statuses[503] > 0, "no fault was injected"


CALM = {"fail_rate": 0, "drop_before_rate": 0, "drop_after_rate": 0, "latency_ms": 0}


def routed(i: int, revision: str = "v1") -> dict[str, Any]:
    regexes = [f"svc-{i}-critical", f"svc-{i}-warning", f"svc-{i}-{revision}"]
    if revision != "v1":
        regexes.reverse()
    return {**spec(i), "routes": [{"routing_regex": r} for r in regexes]}


def server_routes(emulator: Any) -> dict[str, list[str]]:
    with emulator.client() as http:
        response = http.get("/api/v1/routes/", params={"perpage": 100})
        response.raise_for_status()
        pages = response.json()["total_pages"]
        rows = response.json()["results"]
        for page in range(2, pages + 1):
            rows += http.get("/api/v1/routes/", params={"perpage": 100, "page": page}).json()[
                "results"
            ]
    found: dict[str, list[str]] = {}
    for row in rows:
        if not row["is_the_last_route"]:
            found.setdefault(row["integration_id"], []).append(row["routing_regex"])
    return found


def test_forty_integrations_with_three_routes_converge_under_faults(emulator: Any) -> None:
    # Every fault at once: 5xx, drops before and after commit, latency. No rate limit:
    # throttling is another test's subject and would only make this one wait.
    faults = {**FAULTS["everything-at-once"], "rate_limit": 0}
    emulator.admin("PUT", "faults", faults)
    provider = fresh_provider(emulator.url)
    count = 40
    with ThreadPoolExecutor(WORKERS) as pool:
        created = list(pool.map(lambda i: provider.create(routed(i)), range(count)))
        by_id = {c.id: i for i, c in enumerate(created)}
        want = {
            c.id: [r["routing_regex"] for r in routed(i)["routes"]] for i, c in enumerate(created)
        }
        emulator.admin("PUT", "faults", CALM)
        assert server_routes(emulator) == want
        emulator.admin("PUT", "faults", faults)
        updated = list(
            pool.map(
                lambda i: provider.update(created[i].id, created[i].outs, routed(i, "v2")),
                range(count),
            )
        )
    want = {
        cid: [r["routing_regex"] for r in routed(i, "v2")["routes"]] for cid, i in by_id.items()
    }
    emulator.admin("PUT", "faults", CALM)
    assert server_routes(emulator) == want  # the declared order, no duplicate, no orphan
    assert [len(u.outs["routes"]) for u in updated] == [3] * count
    assert len(live(emulator)) == count
    statuses = Counter(r["status"] for r in emulator.admin("GET", "requests")["requests"])
    assert statuses[500] + statuses[502] + statuses[503] > 0, "no fault was injected"


def test_four_hundred_integrations_at_300_per_minute(emulator: Any) -> None:
    emulator.admin("PUT", "faults", {"rate_limit": 300, "rate_window": 60})
    provider = fresh_provider(emulator.url)
    with ThreadPoolExecutor(WORKERS) as pool:
        results = list(pool.map(lambda i: provider.create(spec(i)), range(400)))
    assert len({r.id for r in results}) == 400
    assert len(live(emulator)) == 400
    throttled = sum(1 for r in emulator.admin("GET", "requests")["requests"] if r["status"] == 429)
    # The shared pause: one 429 per in-flight request at most, not a storm of retries.
    assert 1 <= throttled <= WORKERS * 2, throttled
    print(f"400 creates at 300/min: {throttled} responses were 429")


def interrupted_up(project: Project, emulator: Any, count: int, sig: signal.Signals) -> None:
    """Start `pulumi up` of `count` integrations and send `sig` to its whole process
    group (CLI, language host, providers) once a few integrations exist."""
    project.spec({f"r{i}": spec(i) for i in range(count)})
    emulator.admin("PUT", "faults", {"latency_ms": 400})
    up = subprocess.Popen(
        [str(cli_bin_dir() / "pulumi"), "up", "--yes", "--skip-preview", "--non-interactive"],
        cwd=project.dir,
        env=project.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while len(live(emulator)) < 6:
            assert up.poll() is None, "up finished before it could be interrupted"
            assert time.monotonic() < deadline, "up made no progress"
            time.sleep(0.05)
        os.killpg(up.pid, sig)
        up.wait(timeout=120)
    finally:
        if up.poll() is None:
            os.killpg(up.pid, signal.SIGKILL)
            up.wait()
        if sig == signal.SIGKILL:
            sweep(project.dir)
    assert 0 < len(live(emulator)) < count
    emulator.admin("PUT", "faults", {"latency_ms": 0})


def sweep(project_dir: Path) -> None:
    """Kill what the SIGKILL left behind: the program runner, the language host and the
    dynamic provider run outside the CLI's process group, and without their engine
    they wait forever. They name the project in their command line or run in it."""
    marker = str(project_dir.resolve())
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cwd = os.readlink(entry / "cwd")
            if marker.encode() in (entry / "cmdline").read_bytes() or (
                cwd == marker or cwd.startswith(marker + os.sep)
            ):
                os.kill(int(entry.name), signal.SIGKILL)
        except OSError:
            continue


def assert_next_up_converges(project: Project, emulator: Any, count: int) -> None:
    project.up()
    state = {r["urn"].rsplit("::", 1)[1]: r["outputs"] for r in project.integrations_in_state()}
    assert_converged(emulator, state, {f"r{i}": spec(i) for i in range(count)})
    project.assert_no_changes()


def test_cancelled_up_converges_on_the_next_run(tmp_path: Path, emulator: Any) -> None:
    """Ctrl-C, or a CI job cancelled politely: SIGINT to everything."""
    project = Project(tmp_path, emulator.url)
    interrupted_up(project, emulator, 24, signal.SIGINT)
    assert_next_up_converges(project, emulator, 24)


def test_killed_up_converges_once_the_orphans_are_adopted(tmp_path: Path, emulator: Any) -> None:
    """SIGKILL to everything: creates in flight are lost to the state, not to the server.

    The next `up` never takes those orphans over silently: it names each one's id, and
    declaring `import_id` adopts them.
    """
    project = Project(tmp_path, emulator.url)
    interrupted_up(project, emulator, 24, signal.SIGKILL)
    # The file backend itself does not survive SIGKILL cleanly: it leaves its lock and
    # may leave a truncated metadata file. Recover as its users must (see README).
    stacks = tmp_path / "pulumi-state" / ".pulumi"
    shutil.rmtree(stacks / "locks", ignore_errors=True)
    for attrs in stacks.glob("stacks/*/*.attrs"):
        if attrs.stat().st_size == 0:
            attrs.unlink()
    declared = {f"r{i}": spec(i) for i in range(24)}
    # --continue-on-error names every orphan in one run, not only the first one met.
    for _ in range(3):
        retry = project.run("up", "--yes", "--skip-preview", "--continue-on-error", check=False)
        found = dict(re.findall(r"integration '(svc-\d+)': .*? import_id='(C\w+)'", retry.stdout))
        assert (retry.returncode != 0) == bool(found), retry.stdout
        names = Counter(r["name"] for r in live(emulator))
        assert [n for n, c in names.items() if c > 1] == [], "duplicates"
        if not found:
            break
        for args in declared.values():
            if args["name"] in found:
                args["import_id"] = found[args["name"]]
        project.spec(declared)
    assert_next_up_converges(project, emulator, 24)
