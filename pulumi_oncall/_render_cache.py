"""Renders kept on disk between runs, so that a preview whose templates, samples and
labels have not changed since the last run starts no render process.

An entry is the results of one render job (`_render_worker.render_samples`), under
the SHA-256 of the job and of everything that decides its results: this package's
version and rendering code, Jinja2's, regex's and Python's versions. Only jobs that
hit no bound are kept, and never those of secret templates. An entry that does not
read back as results for its job is ignored and written again.

`PULUMI_ONCALL_RENDER_CACHE` names the directory, or `off`; by default it is
`pulumi-oncall/renders` in `$XDG_CACHE_HOME` (else `~/.cache`). The directory is
made readable by its owner only: rendered text can quote sample alerts. Anything
that fails on disk (no home, a read-only directory) only means no cache.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ENV = "PULUMI_ONCALL_RENDER_CACHE"
_FORMAT = "1"
_MAX_BYTES = 4 << 20  # an entry bigger than this is not read
_MAX_AGE = 30 * 86400  # seconds an entry is kept after it was written
_PRUNE_EVERY = 64  # one store in this many looks for old entries


def directory() -> Path | None:
    """Where entries go, or None when the cache is off."""
    setting = os.environ.get(ENV, "").strip()
    if setting.lower() == "off":
        return None
    if setting:
        return Path(setting)
    base = os.environ.get("XDG_CACHE_HOME", "").strip()
    try:
        root = Path(base) if base else Path.home() / ".cache"
    except RuntimeError:  # no home directory
        return None
    return root / "pulumi-oncall" / "renders"


@functools.cache
def _fingerprint() -> bytes:
    import jinja2
    import regex

    from . import _render_worker, _rendering, _templating
    from ._version import __version__

    digest = hashlib.sha256(
        json.dumps(
            [_FORMAT, __version__, jinja2.__version__, regex.__version__, sys.version]
        ).encode()
    )
    for module in (_rendering, _templating, _render_worker):
        digest.update(Path(module.__file__ or "").read_bytes())
    return digest.digest()


def _path(folder: Path, job: str) -> Path:
    return folder / f"{hashlib.sha256(_fingerprint() + job.encode()).hexdigest()}.json"


def load(job: str, keys: set[str]) -> dict[str, list[Any]] | None:
    """The results kept for `job` (one per key of `keys`), or None."""
    folder = directory()
    if folder is None:
        return None
    try:
        path = _path(folder, job)
        with path.open("rb") as file:
            if os.fstat(file.fileno()).st_size > _MAX_BYTES:
                return None
            found = json.loads(file.read())
    except (OSError, ValueError):
        return None
    if not isinstance(found, dict) or set(found) != keys:
        return None
    return found if all(_is_wire(w) for w in found.values()) else None


def _is_wire(value: Any) -> bool:
    """A result as `_render_worker` sends it: text, problem, severity, length, limit,
    notes."""
    if not isinstance(value, list) or len(value) != 6:
        return False
    text, problem, severity, length, limit, notes = value
    return (
        all(v is None or isinstance(v, str) for v in (text, problem, severity))
        and all(type(v) is int and v >= 0 for v in (length, limit))
        and isinstance(notes, list)
        and all(isinstance(n, str) for n in notes)
    )


def store(job: str, results: dict[str, list[Any]]) -> None:
    folder = directory()
    if folder is None:
        return
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = _path(folder, job)
        with tempfile.NamedTemporaryFile("w", dir=folder, suffix=".tmp", delete=False) as file:
            json.dump(results, file)
        os.replace(file.name, path)  # whole or not at all, for a concurrent reader
    except OSError:
        with contextlib.suppress(OSError, NameError):
            os.unlink(file.name)
        return
    if int.from_bytes(os.urandom(1), "big") % _PRUNE_EVERY == 0:
        _prune(folder)


def _prune(folder: Path) -> None:
    cutoff = time.time() - _MAX_AGE
    with contextlib.suppress(OSError):
        for entry in os.scandir(folder):
            with contextlib.suppress(OSError):
                if entry.name.endswith((".json", ".tmp")) and entry.stat().st_mtime < cutoff:
                    os.unlink(entry.path)
