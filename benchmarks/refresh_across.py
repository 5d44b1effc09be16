"""Refresh one stack with the provider of several commits, next to the floor's refresh.

    ./run bench refresh_across [--count 1000] [--repeat 5] [--templates web] REV [REV ...]

Deploys one stack of `--count` integrations and one of as many no-op resources (the
floor), then refreshes them in turns: the integrations once with the provider code of
each REV (its `pulumi_oncall` taken with `git archive` and put first on PYTHONPATH,
which the provider process inherits), then the floor, the order rotating between
repetitions. Pulumi pickles the provider by reference, so the state stays the same
and only the provider's code changes. Prints, per REV, the median seconds, the median
of the ratios to the floor's refresh of the same repetition, and the same for the CPU
of every process the run starts (the emulator's included). It answers "is refresh
slower than at REV?" at a size where one paired run of `floor.py` is too noisy to
tell.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from bench_providers import TEMPLATES
from floor import PHASES, TOKEN, UP, Bench

from pulumi_oncall.emulator import EmulatorProcess

REPO = Path(__file__).resolve().parent.parent


def checkout(rev: str, into: Path) -> Path:
    """The package as it was at `rev`, in a directory of its own."""
    into.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", rev, "pulumi_oncall"],
        check=True,
        capture_output=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("revs", nargs="+", metavar="REV")
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--templates", default="web", choices=sorted(TEMPLATES))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="oncall-across-") as tmp:
        work = Path(tmp)
        trees = {rev: checkout(rev, work / "trees" / rev.replace("/", "_")) for rev in args.revs}
        bench = Bench(work, 0, args.templates)
        base = dict(bench.env)
        with EmulatorProcess(token=TOKEN, extra_args=["--rate-limit", "0"]) as emulator:
            base["GRAFANA_ONCALL_URL"] = emulator.url
            bench.env = base
            with contextlib.ExitStack() as stacks:
                ours = stacks.enter_context(bench.stack("ours", "oncall", args.count))
                floor = stacks.enter_context(bench.stack("floor", "noop", args.count))
                ups = [
                    threading.Thread(target=bench.pulumi, args=UP, kwargs={"stack": s})
                    for s in (ours, floor)
                ]
                for thread in ups:
                    thread.start()
                for thread in ups:
                    thread.join()
                sides: list[tuple[str, str, Path | None]] = [
                    (rev, ours, tree) for rev, tree in trees.items()
                ]
                sides.append(("floor", floor, None))
                runs: dict[str, list[tuple[float, float]]] = {label: [] for label, _, _ in sides}
                for repetition in range(args.repeat):
                    turn = repetition % len(sides)
                    for label, stack, tree in sides[turn:] + sides[:turn]:
                        bench.env = {**base, **({"PYTHONPATH": str(tree)} if tree else {})}
                        measure = bench.phase(stack, PHASES["refresh"], emulator)
                        runs[label].append((measure.seconds, measure.cpu))
                        print(
                            f"  #{repetition + 1} {label}: {measure.seconds:.2f} s",
                            file=sys.stderr,
                        )
                bench.env = base
                for stack in (ours, floor):
                    bench.pulumi(*PHASES["destroy"], stack=stack)
    floors = runs["floor"]
    print(f"refresh of {args.count} integrations, {args.repeat} repetitions (medians)")
    print(f"{'provider at':24} {'s':>6} {'ratio':>6} {'cpu s':>6} {'cpu ratio':>9}")
    for label, rows in runs.items():
        ratio = statistics.median(r[0] / f[0] for r, f in zip(rows, floors, strict=True))
        cpu_ratio = statistics.median(r[1] / f[1] for r, f in zip(rows, floors, strict=True))
        seconds = statistics.median(r[0] for r in rows)
        cpu = statistics.median(r[1] for r in rows)
        print(f"{label:24} {seconds:6.2f} {ratio:6.2f} {cpu:6.2f} {cpu_ratio:9.2f}")


if __name__ == "__main__":
    main()
