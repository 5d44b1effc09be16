"""Deploy N integrations through the provider against a throttled emulator.

Compares, in one run, the shared throttle (one 429 pauses every worker) with a
per-worker pause (each worker waits out only its own 429's Retry-After) and with a
generic retry loop (per-worker exponential backoff that ignores Retry-After), with
four operations at once as the engine runs them.

    ./run bench throttle             # 400 integrations at 300 requests/min
    ./run bench throttle --count 100 --rate-limit 60 --window 10
"""

from __future__ import annotations

import argparse
import resource
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from pulumi_oncall._client import Throttle
from pulumi_oncall._provider import IntegrationProvider
from pulumi_oncall.emulator import EmulatorProcess

TOKEN = "bench-token"
WORKERS = 4


class PerWorkerThrottle(Throttle):
    """The baseline: a 429 pauses only the worker that received it."""

    def __init__(self) -> None:
        super().__init__()
        self._local = threading.local()

    def pause(self, seconds: float) -> None:
        with self._lock:
            self.throttled += 1
        self._local.resume_at = time.monotonic() + seconds

    def wait(self) -> None:
        delay = getattr(self._local, "resume_at", 0.0) - time.monotonic()
        if delay > 0:
            time.sleep(delay)


class BackoffOnlyThrottle(PerWorkerThrottle):
    """A generic retry loop: exponential backoff per worker, Retry-After ignored."""

    def pause(self, seconds: float) -> None:
        attempt = getattr(self._local, "attempt", 0) + 1
        self._local.attempt = attempt
        super().pause(min(0.5 * 2 ** (attempt - 1), 8.0))


@dataclass
class Result:
    name: str
    seconds: float
    requests: int
    throttled: int
    created: int


def run(name: str, emulator: EmulatorProcess, count: int, throttle: Throttle | None) -> Result:
    emulator.admin("POST", "reset")
    provider = IntegrationProvider()
    provider.configure_from({"oncall:url": emulator.url, "oncall:token": TOKEN}.get, {})
    if throttle is not None:
        provider.client.throttle = throttle
    spec = {"type": "webhook", "templates": {"web": {"title": "{{ payload.title }}"}}}
    start = time.perf_counter()
    with ThreadPoolExecutor(WORKERS) as pool:
        list(pool.map(lambda i: provider.create({**spec, "name": f"{name}-{i}"}), range(count)))
    seconds = time.perf_counter() - start
    log = emulator.admin("GET", "requests")["requests"]
    statuses = Counter(r["status"] for r in log)
    live = [r for r in emulator.admin("GET", "integrations")["integrations"] if not r["deleted"]]
    provider.client.close()
    return Result(name, seconds, len(log), statuses[429], len(live))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=400)
    parser.add_argument("--rate-limit", type=int, default=300, help="requests per window")
    parser.add_argument("--window", type=float, default=60.0, help="seconds")
    args = parser.parse_args()
    extra = ["--rate-limit", str(args.rate_limit), "--rate-window", str(args.window)]
    with EmulatorProcess(token=TOKEN, extra_args=extra) as emulator:
        results = [
            run("shared-throttle", emulator, args.count, None),
            run("per-worker-pause", emulator, args.count, PerWorkerThrottle()),
            run("backoff-only", emulator, args.count, BackoffOnlyThrottle()),
        ]
    print(
        f"{args.count} creates, {WORKERS} workers, {args.rate_limit} requests per {args.window:g}s"
    )
    print(f"{'policy':<18} {'seconds':>8} {'requests':>9} {'429s':>6} {'created':>8}")
    for r in results:
        print(f"{r.name:<18} {r.seconds:>8.1f} {r.requests:>9} {r.throttled:>6} {r.created:>8}")
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of this process: {peak_mib:.0f} MiB")


if __name__ == "__main__":
    main()
