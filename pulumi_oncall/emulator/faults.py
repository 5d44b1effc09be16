"""Fault injection and the per-user rate limiter."""

from __future__ import annotations

import math
import random
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass, replace
from typing import Any

DEFAULT_FAIL_STATUSES: tuple[int, ...] = (500, 502, 503)


class FaultSettingsError(ValueError):
    pass


@dataclass(frozen=True)
class FaultSettings:
    fail_rate: float = 0.0
    fail_statuses: tuple[int, ...] = DEFAULT_FAIL_STATUSES
    latency_ms: int = 0
    drop_before_rate: float = 0.0
    drop_after_rate: float = 0.0
    rate_limit: int = 300
    rate_window: float = 60.0

    def __post_init__(self) -> None:
        for name in ("fail_rate", "drop_before_rate", "drop_after_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise FaultSettingsError(f"{name} must be between 0 and 1")
        if not self.fail_statuses:
            raise FaultSettingsError("fail_statuses must not be empty")
        if any(not 400 <= s <= 599 for s in self.fail_statuses):
            raise FaultSettingsError("fail_statuses must be HTTP error statuses (400-599)")
        if self.latency_ms < 0:
            raise FaultSettingsError("latency_ms must be >= 0")
        if self.rate_limit < 0:
            raise FaultSettingsError("rate_limit must be >= 0")
        if self.rate_window <= 0:
            raise FaultSettingsError("rate_window must be > 0")

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["fail_statuses"] = list(self.fail_statuses)
        return out

    def updated(self, changes: Any) -> FaultSettings:
        """A copy with `changes` (decoded JSON, partial) applied and checked."""
        if not isinstance(changes, dict):
            raise FaultSettingsError("expected a JSON object")
        unknown = set(changes) - set(asdict(self))
        if unknown:
            raise FaultSettingsError(f"unknown settings: {', '.join(sorted(unknown))}")
        kwargs: dict[str, Any] = {}
        try:
            for key, value in changes.items():
                if isinstance(value, bool) or value is None:
                    raise TypeError
                if key == "fail_statuses":
                    kwargs[key] = parse_statuses(value)
                elif key in ("latency_ms", "rate_limit"):
                    if isinstance(value, float) and not value.is_integer():
                        raise TypeError
                    kwargs[key] = int(value)
                else:
                    kwargs[key] = float(value)
        except (TypeError, ValueError) as exc:
            raise FaultSettingsError(f"bad value for {key}") from exc
        return replace(self, **kwargs)


def parse_statuses(value: Any) -> tuple[int, ...]:
    """`"500,502"` or `[500, 502]` -> (500, 502)."""
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)):
        raise TypeError("expected a list of statuses")
    return tuple(int(str(s).strip()) for s in items if str(s).strip())


@dataclass(frozen=True)
class FaultPlan:
    """What happens to one request, drawn before it is processed."""

    latency_s: float
    drop_before: bool
    fail_status: int | None
    drop_after: bool


class FaultInjector:
    def __init__(self, settings: FaultSettings, seed: int | None = None) -> None:
        self._settings = settings
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    @property
    def settings(self) -> FaultSettings:
        return self._settings

    @settings.setter
    def settings(self, value: FaultSettings) -> None:
        with self._lock:
            self._settings = value

    def plan(self) -> FaultPlan:
        with self._lock:
            s = self._settings
            # Always the same draws per request, so a seed replays the same faults
            # whatever the rates are.
            r_drop, r_fail, r_after = self._rng.random(), self._rng.random(), self._rng.random()
            status = self._rng.choice(s.fail_statuses)
        return FaultPlan(
            latency_s=s.latency_ms / 1000.0,
            drop_before=r_drop < s.drop_before_rate,
            fail_status=status if r_fail < s.fail_rate else None,
            drop_after=r_after < s.drop_after_rate,
        )


class RateLimiter:
    """Sliding window of granted requests per user, like DRF's SimpleRateThrottle."""

    def __init__(self) -> None:
        self._history: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def acquire(self, user: str, limit: int, window: float) -> int | None:
        """Record a request and return None, or the seconds to wait if over the limit."""
        if limit <= 0:
            return None
        now = time.monotonic()
        with self._lock:
            history = self._history.setdefault(user, deque())
            while history and history[0] <= now - window:
                history.popleft()
            if len(history) >= limit:
                # Throttled requests are not recorded, so they do not extend the wait.
                return max(1, math.ceil(history[-limit] + window - now))
            history.append(now)
        return None

    def reset(self) -> None:
        with self._lock:
            self._history.clear()
