"""Where the provider finds its endpoint, credentials and retry settings."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any

from .client import RetrySettings
from .exceptions import ConfigurationError

URL_KEY = "oncall:url"
TOKEN_KEY = "oncall:token"
URL_ENV = "GRAFANA_ONCALL_URL"
TOKEN_ENV = "GRAFANA_ONCALL_ACCESS_TOKEN"

# Stack config keys for the retry policy, and the RetrySettings field each one sets.
RETRY_KEYS: dict[str, str] = {
    "oncall:requestTimeout": "timeout",
    "oncall:retryMaxElapsed": "max_elapsed",
    "oncall:retryMaxAttempts": "max_attempts",
    "oncall:retryMaxWait": "max_retry_after",
}


@dataclass(frozen=True)
class Settings:
    url: str
    token: str
    retry: RetrySettings

    def __repr__(self) -> str:
        return f"Settings(url={self.url!r}, token='***', retry={self.retry!r})"


def load(get: Callable[[str], Any], env: Mapping[str, str]) -> Settings:
    """Read stack config through `get`, falling back to the environment."""
    url = get(URL_KEY) or env.get(URL_ENV)
    token = get(TOKEN_KEY) or env.get(TOKEN_ENV)
    missing = []
    if not url:
        example = "https://oncall.example.com"
        missing.append(f"the OnCall API URL: `pulumi config set {URL_KEY} {example}` or {URL_ENV}")
    if not token:
        missing.append(
            f"the OnCall API token: `pulumi config set --secret {TOKEN_KEY} ...` or {TOKEN_ENV}"
        )
    if missing:
        raise ConfigurationError("not configured; set " + " and ".join(missing))

    defaults = RetrySettings()
    kinds = {f.name: type(getattr(defaults, f.name)) for f in fields(RetrySettings)}
    overrides: dict[str, Any] = {}
    for key, attr in RETRY_KEYS.items():
        raw = get(key)
        if raw is None or raw == "":
            continue
        try:
            value = kinds[attr](raw)
        except (TypeError, ValueError):
            raise ConfigurationError(f"{key} must be a number, got {raw!r}") from None
        if value <= 0:
            raise ConfigurationError(f"{key} must be positive, got {raw!r}")
        overrides[attr] = value
    return Settings(str(url), str(token), RetrySettings(**{**defaults.__dict__, **overrides}))
