"""Renders in a child process, so that no template can hang or exhaust the caller.

Nothing in-process can stop a Python-level loop or cap memory, so every render goes
to a long-lived child process, one per process that renders, started on first use
and stopped at exit. The child holds itself to `MEMORY_BOUND` of address space, and
a watchdog thread ends it when a render runs past `TIME_BOUND` or when its parent is
gone; a CPU-time limit ends it even when a C call holds the interpreter.

Work goes over the child's stdin and stdout as JSON lines, a whole job at a time (one
integration: all its templates for all its samples), so a preview of many
integrations costs one round trip each, and none for an integration whose job was
done before (`render_samples` keeps the results of those that hit no bound). Before
each render the child writes which one it starts into a small file it shares with
the parent (a line on the pipe for each would wake the parent once per render, which
measured twice as slow on a busy machine); results go back in a batch whenever half
a second has passed, and at the end of the job. When the child dies or goes silent,
the parent reads which render did it, starts a new child and sends the job again
with the results it has, that render marked as failed with the bound it hit. A
template that ran past the time bound is not rendered again in this process.

The child imports jinja2, regex and the pure rendering code, nothing of Pulumi: it
starts in about a tenth of a second.
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import json
import math
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import _render_cache as render_cache
from . import _rendering as rendering
from ._rendering import Declared, Rendered, Sample

TIME_BOUND = 5
"""Seconds of wall time one render may take."""
MEMORY_BOUND = 1 << 30
"""Bytes of address space the render process may use (1 GiB)."""

_CPU_BOUND = TIME_BOUND + 1  # CPU seconds per render, enforced by the kernel
_SILENCE = TIME_BOUND + 3  # seconds the parent waits for the child's next message
_FLUSH_EVERY = 0.5  # seconds between the child's batches of results
_SLOT = 64  # bytes of the shared file that holds the key of the render under way
_START = 60  # seconds the parent waits for a new child to be ready
_EXIT_TIME = 86  # the watchdog's exit status
_POLL = 0.1

TIME_PROBLEM = f"stopped after {TIME_BOUND} s: pulumi-oncall bounds each render to {TIME_BOUND} s"
MEMORY_PROBLEM = (
    f"needs more than {MEMORY_BOUND >> 30} GiB of memory: pulumi-oncall bounds each render "
    f"to {MEMORY_BOUND >> 30} GiB"
)

# A render: template, payload, labels, context, limit.
RenderSpec = tuple[str, Any, Mapping[str, Any] | None, Mapping[str, Any] | None, int]
# A result on the wire: text, problem, severity, length, limit, notes.
Wire = list[Any]


def _to_wire(result: Rendered) -> Wire:
    return [
        result.text,
        result.problem,
        result.severity,
        result.length,
        result.limit,
        list(result.notes),
    ]


def _from_wire(wire: Wire) -> Rendered:
    text, problem, severity, length, limit, notes = wire
    return Rendered(text, problem, severity, length, limit, tuple(notes))


def _failed(problem: str, limit: int) -> Wire:
    return [None, problem, "bound", 0, limit, []]


# --- In the parent ------------------------------------------------------------------


def render_each(
    renders: Sequence[RenderSpec], places: Sequence[str] | None = None
) -> list[Rendered]:
    """Each render, independent of the others, in the render process.

    `places` name them in the message of a render skipped after another with the
    same template ran past the time bound ("sample 'x'").
    """
    job = _Job({"kind": "each", "renders": [list(r) for r in renders]})
    for i, (template, *_, limit) in enumerate(renders):
        job.add(str(i), template, limit, places[i] if places else "an earlier render")
    results = _renderer.run(job)
    return [_from_wire(results[str(i)]) for i in range(len(renders))]


def render_samples(
    integration: str,
    declared: Sequence[Declared],
    samples: Sequence[Sample],
    static: Mapping[str, Any],
    keep: bool = True,
) -> list[list[tuple[Declared, Rendered]]]:
    """Every declared template for every sample, as `rendering.render_sample` does.

    With `keep`, the results also go to the cache on disk (`_render_cache`), and come
    from it when they are there; never for secret templates.
    """
    body = {
        "kind": "samples",
        "integration": integration,
        "declared": [[t.path, t.kind, t.source, t.group] for t in declared],
        "payloads": [s.payload for s in samples],
        "labels": dict(static),
    }
    # A render is a function of what the job sends: the integrations of a program that
    # share templates, samples and labels are rendered once. The integration's name
    # reaches a template only as `integration_name`.
    named = any("integration_name" in t.source for t in declared)
    memo = json.dumps({**body, "integration": integration if named else None}, default=str)
    results = _rendered.get(memo)
    if results is None:
        job = _Job(body)
        for s, sample in enumerate(samples):
            for t, template in enumerate(declared):
                place = f"sample {sample.name!r} of integration {integration!r}"
                job.add(f"{s}.{t}", template.source, template.limit, place)
        results = render_cache.load(memo, set(job.sources)) if keep and job.sources else None
        if results is None:
            results = _renderer.run(job)
            # A render that hit a bound is not reused: the next one says where it did.
            if not any(wire[2] == "bound" for wire in results.values()):
                _rendered[memo] = results
                if keep and job.sources:
                    render_cache.store(memo, results)
        else:
            _rendered[memo] = results
    order = rendering.render_order(declared)
    return [
        [(declared[t], _from_wire(results[f"{s}.{t}"])) for t in order] for s in range(len(samples))
    ]


def worker_modules() -> list[str]:
    """The modules the render process has imported (it should need few)."""
    job = _Job({"kind": "modules"})
    return list(_renderer.run(job).get("modules", []))


@dataclass
class _Job:
    body: dict[str, Any]
    sources: dict[str, str] = field(default_factory=dict)
    limits: dict[str, int] = field(default_factory=dict)
    places: dict[str, str] = field(default_factory=dict)

    def add(self, key: str, source: str, limit: int, place: str) -> None:
        self.sources[key], self.limits[key], self.places[key] = source, limit, place

    def identity(self, key: str) -> str:
        """What render `key` sees besides its template."""
        if self.body["kind"] == "each":
            seen = self.body["renders"][int(key)][1:4]
        else:
            sample = int(key.split(".")[0])
            seen = [self.body["integration"], self.body["payloads"][sample], self.body["labels"]]
        return json.dumps(seen, sort_keys=True, default=str)


class _Silent(Exception):
    """The child sent nothing for too long."""


class _Child:
    """One render process, seen from the parent."""

    def __init__(self) -> None:
        package = os.path.dirname(os.path.abspath(__file__))
        # Both closed once the child is gone (last_words, started, dispose).
        self.stderr = tempfile.TemporaryFile()  # noqa: SIM115
        self.slot = tempfile.TemporaryFile()  # noqa: SIM115
        self.slot.truncate(_SLOT)
        fd = self.slot.fileno()
        self.popen = subprocess.Popen(
            [sys.executable, "-c", _BOOT, package, json.dumps(sys.path), str(fd)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            pass_fds=(fd,),
        )
        assert self.popen.stdout is not None
        self.fd = self.popen.stdout.fileno()
        self.buffer = bytearray()

    def started(self) -> str | None:
        """The key of the render under way, once the child is gone; closes the file."""
        if self.slot.closed:
            return None
        with self.slot:
            key = os.pread(self.slot.fileno(), _SLOT, 0).split(b"\0", 1)[0]
        return key.decode() or None

    def send(self, body: Mapping[str, Any]) -> None:
        assert self.popen.stdin is not None
        # Payloads are JSON alert bodies; anything else goes as its text.
        self.popen.stdin.write(json.dumps(body, default=str).encode() + b"\n")
        self.popen.stdin.flush()

    def receive(self, timeout: float) -> list[Any] | None:
        """The next message, None at end of file; _Silent after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            end = self.buffer.find(b"\n")
            if end >= 0:
                line = bytes(self.buffer[:end])
                del self.buffer[: end + 1]
                message: list[Any] = json.loads(line)
                return message
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.fd], [], [], left)[0]:
                raise _Silent()
            chunk = os.read(self.fd, 1 << 16)
            if not chunk:
                return None
            self.buffer += chunk

    def end(self, kill: bool = False) -> int:
        """Stop the child (at once with `kill`) and return its exit status."""
        if kill:
            self.popen.kill()
        else:
            try:
                assert self.popen.stdin is not None
                self.popen.stdin.close()
            except OSError:
                pass
        try:
            return self.popen.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            return self.popen.wait()
        finally:
            for stream in (self.popen.stdin, self.popen.stdout):
                if stream is not None:
                    with contextlib.suppress(OSError):
                        stream.close()

    def last_words(self) -> str:
        """The last line the child wrote to stderr, if any; closes the file."""
        if self.stderr.closed:
            return ""
        with self.stderr:
            self.stderr.seek(0)
            lines = self.stderr.read().decode(errors="replace").strip().splitlines()
        return lines[-1][:200] if lines else ""

    def dispose(self) -> None:
        self.end()
        self.slot.close()
        self.stderr.close()


class _Renderer:
    """The parent's side: one child at a time, one job at a time."""

    def __init__(self) -> None:
        self._reset()
        self._atexit = False

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._child: _Child | None = None
        self._pid = os.getpid()
        # Template -> where it ran past the time bound, and on what.
        self._slow: dict[str, tuple[str, str]] = {}

    def run(self, job: _Job) -> dict[str, Any]:
        if self._pid != os.getpid():
            self._reset()  # a forked copy: the child belongs to the process that started it
        if not job.sources and job.body["kind"] != "modules":
            return {}
        with self._lock:
            return self._run(job)

    def close(self) -> None:
        # At exit a thread may still be rendering. The child holds nothing worth a
        # clean exit, and its interpreter's teardown would delay the program's: killed.
        locked = self._lock.acquire(timeout=1)
        try:
            child, self._child = self._child, None
            if child is not None and self._pid == os.getpid():
                child.end(kill=True)
                child.dispose()
        finally:
            if locked:
                self._lock.release()

    def _run(self, job: _Job) -> dict[str, Any]:
        known: dict[str, Wire] = {}
        for key, source in job.sources.items():
            if source in self._slow:
                known[key] = self._skipped(job, key, self._slow[source])
        while True:
            started: str | None = None
            silent = False
            child: _Child | None = None
            try:
                child = self._ready()
                child.send({**job.body, "given": known})
                while True:
                    message = child.receive(_SILENCE)
                    if message is None:
                        break
                    if message[0] == "results":
                        known.update(message[1])
                    elif message[0] == "done":
                        known.update(message[1])
                        return {**known, "modules": message[2]} if message[2:] else known
                status, words = child.end(), child.last_words()
            except _Silent:
                silent, status, words = True, None, f"no answer within {_SILENCE} s"
            except (OSError, ValueError) as exc:  # could not start, or a broken pipe
                status, words = None, str(exc)
                child = child or self._child
                if child is not None:
                    words = child.last_words() or words
            if child is not None:
                child.end(kill=True)
                started = child.started()
            self._child = None
            if started is None or started in known:
                problem = _crash(status, words)
                for key, limit in job.limits.items():
                    known.setdefault(key, _failed(problem, limit))
                return known
            if silent or status in (_EXIT_TIME, -signal.SIGXCPU):
                known[started] = _failed(TIME_PROBLEM, job.limits[started])
                source = job.sources[started]
                slow = self._slow.setdefault(source, (job.places[started], job.identity(started)))
                for key, other in job.sources.items():
                    if other == source and key not in known:
                        known[key] = self._skipped(job, key, slow)
            else:
                known[started] = _failed(_crash(status, words), job.limits[started])

    def _skipped(self, job: _Job, key: str, slow: tuple[str, str]) -> Wire:
        place, identity = slow
        if identity == job.identity(key):
            # The same render again, e.g. a second check of the same integration.
            return _failed(TIME_PROBLEM, job.limits[key])
        return _failed(
            f"not rendered: it ran past pulumi-oncall's {TIME_BOUND} s bound on {place}",
            job.limits[key],
        )

    def _ready(self) -> _Child:
        if self._child is not None:
            return self._child
        if not self._atexit:
            atexit.register(self.close)
            self._atexit = True
        child = self._child = _Child()
        try:
            ready = child.receive(_START)
        except _Silent:
            raise OSError(f"the render process did not start within {_START} s") from None
        if ready != ["ready"]:
            raise OSError("the render process did not start")
        return child


def _crash(status: int | None, words: str) -> str:
    if status is None:
        how = "failed"
    elif status < 0:
        try:
            how = f"was killed by {signal.Signals(-status).name}"
        except ValueError:
            how = f"was killed by signal {-status}"
    else:
        how = f"exited with status {status}"
    return f"pulumi-oncall's render process {how}" + (f": {words}" if words else "")


_renderer = _Renderer()
# Results of `render_samples` jobs by what they send (`memo`).
_rendered: dict[str, dict[str, Wire]] = {}


# --- In the child -------------------------------------------------------------------

_BOOT = """
import json, sys, types
# The package without its __init__, which imports Pulumi.
package = types.ModuleType("pulumi_oncall")
package.__path__ = [sys.argv[1]]
sys.modules["pulumi_oncall"] = package
sys.path[:] = json.loads(sys.argv[2])
from pulumi_oncall._render_worker import serve
serve(int(sys.argv[3]))
"""


class _Watchdog:
    """Ends the process when a render runs too long or the parent is gone."""

    def __init__(self) -> None:
        self.parent = os.getppid()
        self.deadline: float | None = None
        self.cpu_limit = 0.0

    def start(self) -> None:
        threading.Thread(target=self._watch, name="render-watchdog", daemon=True).start()

    def arm(self) -> None:
        # The kernel's CPU limit ends the process even when a C call holds the GIL,
        # and no watchdog can run. Moved up only once in a while: a syscall.
        used = time.process_time()
        if self.cpu_limit - used < _CPU_BOUND:
            self.cpu_limit = math.ceil(used) + 2 * _CPU_BOUND
            _limit(_resource().RLIMIT_CPU, int(self.cpu_limit), lower_only=False)
        self.deadline = time.monotonic() + TIME_BOUND

    def disarm(self) -> None:
        self.deadline = None

    def _watch(self) -> None:
        while True:
            time.sleep(_POLL)
            if os.getppid() != self.parent:
                os._exit(0)
            deadline = self.deadline
            if deadline is not None and time.monotonic() > deadline:
                os._exit(_EXIT_TIME)


def _resource() -> Any:
    import resource  # Unix only, and only the child needs it

    return resource


def _limit(which: int, soft: int, lower_only: bool = True) -> None:
    """Set the soft limit to `soft`; with `lower_only`, unless it is lower already."""
    resource = _resource()
    current, hard = resource.getrlimit(which)
    if lower_only and current != resource.RLIM_INFINITY and current <= soft:
        return
    if hard == resource.RLIM_INFINITY or soft <= hard:
        # A system that refuses the limit keeps the other bounds.
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(which, (soft, hard))


class _Output:
    """Messages to the parent, results in batches."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.results: dict[str, Wire] = {}
        self.flushed = time.monotonic()

    def send(self, *message: Any) -> None:
        data, written = json.dumps(message).encode() + b"\n", 0
        while written < len(data):
            written += os.write(self.fd, data[written:])

    def result(self, key: str, result: Rendered) -> None:
        self.results[key] = _to_wire(result)
        # What is not sent yet is rendered again after a crash: at most this much.
        if time.monotonic() - self.flushed > _FLUSH_EVERY:
            self.send("results", self.take())

    def take(self) -> dict[str, Wire]:
        results, self.results, self.flushed = self.results, {}, time.monotonic()
        return results


def serve(slot_fd: int) -> None:
    """The child's main loop: jobs in on stdin, messages out on stdout."""
    import mmap

    # Ctrl-C is the parent's to handle; the watchdog sees to it that we follow.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    resource = _resource()
    _limit(resource.RLIMIT_AS, MEMORY_BOUND)
    _limit(resource.RLIMIT_CORE, 0)
    slot = mmap.mmap(slot_fd, _SLOT)
    watchdog = _Watchdog()
    watchdog.start()
    out = _Output(sys.stdout.fileno())
    out.send("ready")
    for line in sys.stdin.buffer:
        body = json.loads(line)
        if body["kind"] == "modules":
            out.send("done", {}, sorted(sys.modules))
            continue
        _serve_job(body, out, watchdog, slot)
        out.send("done", out.take())


def _serve_job(body: dict[str, Any], out: _Output, watchdog: _Watchdog, slot: Any) -> None:
    given: dict[str, Wire] = body["given"]

    def one(
        key: str,
        template: str,
        payload: Any,
        labels: Mapping[str, Any] | None,
        context: Mapping[str, Any] | None,
        limit: int,
    ) -> Rendered:
        if key in given:
            return _from_wire(given[key])
        slot[:] = key.encode().ljust(_SLOT, b"\0")[:_SLOT]
        watchdog.arm()
        try:
            result = rendering.render_in_process(
                template, payload, labels=labels, context=context, limit=limit
            )
        except MemoryError:
            result = Rendered(None, MEMORY_PROBLEM, "bound", limit=limit)
        finally:
            watchdog.disarm()
        if result.problem == MEMORY_PROBLEM:
            # What the render held is in a cycle with the exception's traceback.
            gc.collect()
        slot[:1] = b"\0"
        out.result(key, result)
        return result

    if body["kind"] == "each":
        for i, (template, payload, labels, context, limit) in enumerate(body["renders"]):
            one(str(i), template, payload, labels, context, limit)
        return
    declared = [Declared(*entry) for entry in body["declared"]]
    for s, payload in enumerate(body["payloads"]):

        def render_one(
            t: int,
            template: str,
            payload: Any,
            labels: Mapping[str, Any],
            context: Mapping[str, Any] | None,
            limit: int,
            s: int = s,
        ) -> Rendered:
            return one(f"{s}.{t}", template, payload, labels, context, limit)

        rendering.render_sample(body["integration"], declared, payload, body["labels"], render_one)
