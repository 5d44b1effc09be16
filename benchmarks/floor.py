"""Our `Integration` against the engine's floor: the same program on a no-op provider.

For each N, one stack of N integrations and one of N no-op resources (the same
properties, a dynamic provider that does no I/O) go through the same phases with the
same CLI on the same machine: `up` (create), `preview` (no change), `refresh`, `up`
changing every description, and `destroy`, against an emulator with no rate limit.
The two sides take turns phase by phase: each phase runs on ours and on the floor
back to back, seconds apart, and which goes first alternates between repetitions
(`--repeat`), so that a noisy machine slows both sides of a pair alike. `preview`
and `refresh` change nothing, so each repetition runs them `--still-pairs` times
(order alternating too): their targets are the tightest, and a median of more pairs
moves less from one run to the next. Then a
refresh of `--refresh-count` integrations against a throttled, slow emulator, with
bulk reads and with one GET per read, next to the floor's.

Per phase it prints the median seconds of each side, the median of the paired
ratios (ours over the floor's, pair by pair) with their band (lowest-highest), the
API requests (the emulator's request log) and the peak RSS (VmHWM) of the
`python -m pulumi.dynamic` processes the engine starts, sampled from /proc while
the phase runs; and the targets next to the figures. Next to the seconds, the same
median and band for the CPU time of the run: every process the CLI starts, and for
ours the emulator's too. A gap in seconds with none in CPU is waiting, not work.

    ./run bench                        # N = 200 and 1000, 3 repetitions, refresh of 500
    ./run bench floor --counts 50,200 --repeat 5 --refresh-count 0
    ./run bench floor --counts 200 --templates none --refresh-count 0
    ./run bench floor --counts 200 --routes 3 --refresh-count 0   # with routes
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from bench_providers import TEMPLATES  # next to this script

from pulumi_oncall.emulator import EmulatorProcess

HERE = Path(__file__).resolve().parent
TOKEN = "bench-token"
MB = 1024 * 1024

# Targets: the median of our seconds over the floor's, per phase; None: no target.
PHASE_TARGETS: dict[str, float | None] = {
    "up": 1.1,
    # No or few API calls: the gap is all ours.
    "preview": 1.05,
    "refresh": 1.05,
    "update": 1.1,
    "destroy": 1.1,
}
THROTTLED_REFRESH_TARGET = 1.3
RSS_TARGET_MB, RSS_TARGET_N = 150, 1000
# Linear cost: from the smallest N to the largest, our time per integration grows no
# more than the floor's (the engine's own) does, within this factor.
LINEAR_TOLERANCE = 1.1


@dataclass
class Measure:
    seconds: float
    cpu: float = 0.0
    requests: int = 0
    throttled: int = 0
    rss_mb: float = 0.0


def children_cpu() -> float:
    """CPU seconds of this process's reaped children and their reaped children."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def process_cpu(pid: int | None) -> float:
    """CPU seconds a running process has used so far (its threads included)."""
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Phases:
    """Each phase's measures, one per repetition, paired by index."""

    count: int
    ours: dict[str, list[Measure]] = field(default_factory=dict)
    floor: dict[str, list[Measure]] = field(default_factory=dict)

    def add(self, phase: str, ours: Measure, floor: Measure) -> None:
        self.ours.setdefault(phase, []).append(ours)
        self.floor.setdefault(phase, []).append(floor)

    def ratios(self, phase: str) -> list[float]:
        return [
            o.seconds / f.seconds for o, f in zip(self.ours[phase], self.floor[phase], strict=True)
        ]

    def cpu_ratios(self, phase: str) -> list[float]:
        return [o.cpu / f.cpu for o, f in zip(self.ours[phase], self.floor[phase], strict=True)]

    def ratio(self, phase: str) -> float:
        return statistics.median(self.ratios(phase))

    def seconds(self, phase: str, side: str) -> float:
        measures = self.ours[phase] if side == "ours" else self.floor[phase]
        return statistics.median(m.seconds for m in measures)


class ProviderMemory:
    """Peak RSS of the dynamic provider processes under one engine, sampled from /proc."""

    def __init__(self, root_pid: int, interval: float = 0.1) -> None:
        self.root_pid, self.interval = root_pid, interval
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> ProviderMemory:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while True:
            self.sample()
            if self._stop.wait(self.interval):
                return

    def sample(self) -> None:
        parents: dict[int, int] = {}
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                try:
                    stat = Path(entry.path, "stat").read_text()
                except OSError:
                    continue
                # The command name may hold spaces; the fields after it do not.
                parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
        for pid in parents:
            if not self._descends(pid, parents):
                continue
            try:
                if b"pulumi.dynamic" not in Path(f"/proc/{pid}/cmdline").read_bytes():
                    continue
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            for line in status.splitlines():
                if line.startswith("VmHWM:"):
                    self.peak_kb = max(self.peak_kb, int(line.split()[1]))

    def _descends(self, pid: int, parents: dict[int, int]) -> bool:
        seen = 0
        while pid > 1 and seen < 64:
            pid = parents.get(pid, 0)
            if pid == self.root_pid:
                return True
            seen += 1
        return False


class Bench:
    def __init__(self, work: Path, routes: int = 0, templates: str = "web") -> None:
        self.routes, self.templates = routes, templates
        self.program = work / "program"
        self.program.mkdir()
        shutil.copy(HERE / "floor_program.py", self.program / "__main__.py")
        shutil.copy(HERE / "bench_providers.py", self.program)
        (self.program / "Pulumi.yaml").write_text("name: oncall-floor\nruntime: python\n")
        (work / "state").mkdir()
        scrubbed = ("PULUMI_ACCESS_TOKEN", "PULUMI_CONFIG_PASSPHRASE_FILE", "PULUMI_STACK")
        self.env = {k: v for k, v in os.environ.items() if k not in scrubbed}
        self.env.update(
            PULUMI_HOME=str(work / "pulumi-home"),
            PULUMI_BACKEND_URL=f"file://{work / 'state'}",
            PULUMI_CONFIG_PASSPHRASE="bench",
            PULUMI_PYTHON_CMD=sys.executable,
            PULUMI_SKIP_UPDATE_CHECK="true",
            PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION="true",
            GRAFANA_ONCALL_ACCESS_TOKEN=TOKEN,
            # Starts empty, as on a fresh machine; later runs find what earlier ones kept.
            PULUMI_ONCALL_RENDER_CACHE=str(work / "render-cache"),
        )
        self.log = work / "pulumi.log"

    def pulumi(self, *args: str, stack: str | None) -> tuple[float, int, float]:
        """Run `pulumi ARGS` on `stack`: its seconds, the providers' peak RSS in kB, and
        the CPU seconds of the CLI and every process under it."""
        cmd = ["pulumi", *args, *(["--stack", stack] if stack else []), "--non-interactive"]
        with self.log.open("w") as out:
            cpu = children_cpu()
            start = time.perf_counter()
            proc = subprocess.Popen(
                cmd,
                cwd=self.program,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
            )
            with ProviderMemory(proc.pid) as memory:
                code = proc.wait()
            seconds = time.perf_counter() - start
            # Counted once the CLI is reaped, with what it reaped of its own children.
            cpu = children_cpu() - cpu
        if code != 0:
            sys.exit(f"`{' '.join(cmd)}` exited {code}:\n{self.log.read_text()[-4000:]}")
        return seconds, memory.peak_kb, cpu

    @contextmanager
    def stack(self, name: str, kind: str, count: int) -> Iterator[str]:
        self.pulumi("stack", "init", name, stack=None)
        self.config(
            name,
            kind=kind,
            count=str(count),
            description="v1",
            routes=str(self.routes),
            templates=self.templates,
        )
        try:
            yield name
        finally:
            self.pulumi("stack", "rm", "--yes", "--force", stack=name)

    def config(self, stack: str, **values: str) -> None:
        for key, value in values.items():
            self.pulumi("config", "set", key, value, stack=stack)

    def phase(self, stack: str, args: Sequence[str], emulator: EmulatorProcess | None) -> Measure:
        if emulator is not None:
            emulator.admin("DELETE", "requests")
        pid = emulator.pid if emulator is not None else None
        served = process_cpu(pid)
        seconds, peak_kb, cpu = self.pulumi(*args, stack=stack)
        cpu += process_cpu(pid) - served
        measure = Measure(seconds, cpu=cpu, rss_mb=peak_kb / 1024)
        if emulator is not None:
            log = emulator.admin("GET", "requests")["requests"]
            api = [r for r in log if r["path"].startswith("/api/")]
            measure.requests = len(api)
            measure.throttled = sum(r["status"] == 429 for r in api)
        return measure


UP = ("up", "--yes", "--skip-preview")
PHASES: dict[str, tuple[str, ...]] = {
    "up": UP,
    "preview": ("preview", "--expect-no-changes"),
    "refresh": ("refresh", "--yes", "--skip-preview"),
    "update": UP,
    "destroy": ("destroy", "--yes", "--skip-preview"),
}


def live(emulator: EmulatorProcess, stack: str) -> int:
    rows = emulator.admin("GET", "integrations")["integrations"]
    return sum(1 for r in rows if not r["deleted"] and r["name"].startswith(f"{stack} "))


def check(condition: bool, message: str) -> None:
    if not condition:
        sys.exit(f"benchmark invalid: {message}")


# Phases that leave the stack as it was, so they can run again at once.
STILL = frozenset({"preview", "refresh"})


def run_phases(
    bench: Bench, emulator: EmulatorProcess, count: int, repeat: int, still_pairs: int = 1
) -> Phases:
    result = Phases(count)
    with (
        bench.stack(f"oncall-{count}", "oncall", count) as ours,
        bench.stack(f"noop-{count}", "noop", count) as floor,
    ):
        sides = {ours: emulator, floor: None}
        for rep in range(repeat):
            for phase, args in PHASES.items():
                description = "v2" if phase == "update" else "v1"
                for again in range(still_pairs if phase in STILL else 1):
                    # Each phase on both sides back to back; who goes first alternates.
                    order = (ours, floor) if (rep + again) % 2 == 0 else (floor, ours)
                    if phase in ("up", "update"):
                        for stack in order:
                            bench.config(stack, description=description)
                    measured = {stack: bench.phase(stack, args, sides[stack]) for stack in order}
                    result.add(phase, measured[ours], measured[floor])
                    expected = 0 if phase == "destroy" else count
                    live_now = live(emulator, ours)
                    check(live_now == expected, f"{expected} integrations after {phase}")
                    ratio = measured[ours].seconds / measured[floor].seconds
                    cpu_ratio = measured[ours].cpu / measured[floor].cpu
                    print(
                        f"  N={count} #{rep + 1} {phase}: ours {measured[ours].seconds:.1f} s, "
                        f"floor {measured[floor].seconds:.1f} s, {ratio:.2f}; CPU ours "
                        f"{measured[ours].cpu:.1f} s, floor {measured[floor].cpu:.1f} s, "
                        f"{cpu_ratio:.2f}{' (floor first)' if order[0] == floor else ''}",
                        file=sys.stderr,
                        flush=True,
                    )
    return result


def throttled_refresh(bench: Bench, count: int, rate: int, latency_ms: int) -> dict[str, Measure]:
    results: dict[str, Measure] = {}
    for side, kind in (("bulk reads", "oncall"), ("one GET each", "one-get")):
        # An emulator each: the rate window of one side must not slow the other.
        with (
            EmulatorProcess(token=TOKEN, extra_args=["--rate-limit", "0"]) as emulator,
            bench.stack(f"refresh-{kind}-{count}", kind, count) as stack,
        ):
            bench.env["GRAFANA_ONCALL_URL"] = emulator.url
            bench.pulumi(*UP, stack=stack)
            check(live(emulator, stack) == count, f"{count} integrations before refresh")
            emulator.admin(
                "PUT", "faults", {"rate_limit": rate, "rate_window": 60, "latency_ms": latency_ms}
            )
            results[side] = bench.phase(stack, PHASES["refresh"], emulator)
            emulator.admin("PUT", "faults", {"rate_limit": 0, "latency_ms": 0})
            bench.pulumi(*PHASES["destroy"], stack=stack)
        print(f"  refresh {side}: done", file=sys.stderr, flush=True)
    with bench.stack(f"refresh-noop-{count}", "noop", count) as stack:
        bench.pulumi(*UP, stack=stack)
        results["floor (no-op)"] = bench.phase(stack, PHASES["refresh"], None)
        bench.pulumi(*PHASES["destroy"], stack=stack)
    return results


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def band(values: Sequence[float]) -> str:
    return f"{min(values):.2f}-{max(values):.2f}"


def report_phases(results: list[Phases]) -> None:
    for r in results:
        print(
            f"\nN = {r.count}: Integration (ours) against a no-op provider (floor); "
            "per phase, the paired runs, the median seconds, the median and band of the "
            "paired ratios of the seconds, then of the CPU"
        )
        print(
            f"{'phase':<8} {'pairs':>5} {'ours s':>8} {'floor s':>8} {'ratio':>6} {'band':>10} "
            f"{'target':>13} {'CPU ratio':>9} {'CPU band':>10} {'API calls':>9} "
            f"{'RSS ours MB':>11} {'RSS floor MB':>12}"
        )
        for phase in PHASES:
            ratio = r.ratio(phase)
            target = PHASE_TARGETS[phase]
            goal = f"<={target}x {verdict(ratio <= target)}" if target else "-"
            requests = max(m.requests for m in r.ours[phase])
            rss_ours = max(m.rss_mb for m in r.ours[phase])
            rss_floor = max(m.rss_mb for m in r.floor[phase])
            print(
                f"{phase:<8} {len(r.ratios(phase)):>5} "
                f"{r.seconds(phase, 'ours'):>8.1f} {r.seconds(phase, 'floor'):>8.1f} "
                f"{ratio:>6.2f} {band(r.ratios(phase)):>10} {goal:>13} "
                f"{statistics.median(r.cpu_ratios(phase)):>9.2f} {band(r.cpu_ratios(phase)):>10} "
                f"{requests:>9} {rss_ours:>11.0f} {rss_floor:>12.0f}"
            )
    largest = max(results, key=lambda r: r.count)
    peak = max(m.rss_mb for measures in largest.ours.values() for m in measures)
    note = "" if largest.count >= RSS_TARGET_N else f" (target is for N = {RSS_TARGET_N})"
    print(
        f"\nprovider RSS at N = {largest.count}: {peak:.0f} MB; target < {RSS_TARGET_MB} MB at "
        f"N = {RSS_TARGET_N}{note}: {verdict(peak < RSS_TARGET_MB)}"
    )
    if len(results) < 2:
        return
    smallest = min(results, key=lambda r: r.count)
    print(
        f"\ntime per integration (ms, median runs), N = {smallest.count} -> N = {largest.count}; "
        f"target: ours grows no more than the floor, within {LINEAR_TOLERANCE}x"
    )
    print(f"{'phase':<8} {'ours':>17} {'growth':>6} {'floor':>17} {'growth':>6}")
    for phase in PHASES:
        per = [
            [
                r.seconds(phase, "ours") / r.count * 1000,
                r.seconds(phase, "floor") / r.count * 1000,
            ]
            for r in (smallest, largest)
        ]
        ours_growth, floor_growth = per[1][0] / per[0][0], per[1][1] / per[0][1]
        ok = ours_growth <= floor_growth * LINEAR_TOLERANCE
        print(
            f"{phase:<8} {per[0][0]:>7.1f} -> {per[1][0]:>6.1f} {ours_growth:>6.2f} "
            f"{per[0][1]:>7.1f} -> {per[1][1]:>6.1f} {floor_growth:>6.2f} {verdict(ok)}"
        )


def report_refresh(results: dict[str, Measure], count: int, rate: int, latency_ms: int) -> None:
    floor = results["floor (no-op)"].seconds
    print(f"\nrefresh of {count} at {rate} requests/min, {latency_ms} ms latency per request")
    print(
        f"{'side':<14} {'seconds':>8} {'vs floor':>8} {'target':>13} {'API calls':>9} "
        f"{'429s':>5} {'RSS MB':>7}"
    )
    for side, m in results.items():
        ratio = m.seconds / floor
        target = THROTTLED_REFRESH_TARGET
        goal = f"<={target}x {verdict(ratio <= target)}" if side == "bulk reads" else "-"
        print(
            f"{side:<14} {m.seconds:>8.1f} {ratio:>8.2f} {goal:>13} {m.requests:>9} "
            f"{m.throttled:>5} {m.rss_mb:>7.0f}"
        )


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("expected a positive integer")
    return value


def counts(text: str) -> list[int]:
    values = [int(v) for v in text.split(",") if v.strip()]
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError("expected positive integers, comma-separated")
    return values


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="./run bench floor",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--counts", type=counts, default=[200, 1000], help="N (200,1000)")
    parser.add_argument(
        "--refresh-count", type=int, default=500, help="integrations of the throttled refresh"
    )
    parser.add_argument("--refresh-rate", type=int, default=300, help="requests per minute")
    parser.add_argument("--refresh-latency-ms", type=int, default=50)
    parser.add_argument("--repeat", type=positive, default=3, help="paired runs of each phase (3)")
    parser.add_argument(
        "--still-pairs",
        type=positive,
        default=1,
        help="paired runs of preview and refresh in each repetition (1)",
    )
    parser.add_argument(
        "--routes", type=int, default=0, help="routes on each integration of the phases (0)"
    )
    parser.add_argument(
        "--templates",
        choices=sorted(TEMPLATES),
        default="web",
        help="the template each integration declares (web: a web title)",
    )
    args = parser.parse_args()

    version = subprocess.run(
        ["pulumi", "version"], capture_output=True, text=True, check=True
    ).stdout.strip()
    print(f"pulumi {version}, {os.cpu_count()} CPUs", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="oncall-floor-") as work:
        bench = Bench(Path(work), args.routes, args.templates)
        with EmulatorProcess(token=TOKEN, extra_args=["--rate-limit", "0"]) as emulator:
            bench.env["GRAFANA_ONCALL_URL"] = emulator.url
            phases = [
                run_phases(bench, emulator, n, args.repeat, args.still_pairs) for n in args.counts
            ]
        bench.routes = 0
        refresh = (
            throttled_refresh(bench, args.refresh_count, args.refresh_rate, args.refresh_latency_ms)
            if args.refresh_count
            else None
        )
    routes = f"; {args.routes} routes per integration" if args.routes else ""
    print(
        f"engine: pulumi {version}; {os.cpu_count()} CPUs; {args.repeat} repetitions, "
        f"preview and refresh {args.still_pairs} times each; "
        f"templates: {args.templates}{routes}"
    )
    report_phases(phases)
    if refresh is not None:
        report_refresh(refresh, args.refresh_count, args.refresh_rate, args.refresh_latency_ms)


if __name__ == "__main__":
    main()
