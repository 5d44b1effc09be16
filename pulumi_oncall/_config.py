"""Where the provider, lookups and the export command find OnCall: endpoints,
credentials and retry settings, for the default connection and named ones, and
the names of those settings. `connection.py` turns settings into a connection.
"""

from __future__ import annotations

import json
import os
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any, ClassVar
from urllib.parse import urlsplit

from ._client import SERVICE_ACCOUNT_PREFIX, RetrySettings, api_root, without_credentials
from ._exceptions import ConfigurationError


@dataclass(frozen=True)
class ConfigKeys:
    """The names of a connection's settings, so that an error names the one to fix."""

    url: str = "oncall:url"
    token: str = "oncall:token"
    grafana_url: str = "oncall:grafanaUrl"
    ca_bundle: str = "oncall:caBundle"
    # The default connection also reads the environment; named ones do not.
    env: bool = True
    # A `pulumi_oncall.Connection` of the program: its values are arguments, not config.
    declared: bool = False

    ENV: ClassVar[dict[str, str]] = {
        "url": "GRAFANA_ONCALL_URL",
        "token": "GRAFANA_ONCALL_ACCESS_TOKEN",
        "grafana_url": "GRAFANA_URL",
    }

    def name(self, field: str) -> str:
        key: str = getattr(self, field)
        return f"{key} (or {self.ENV[field]})" if self.env and field in self.ENV else key

    def how_to_set(self, field: str, example: str) -> str:
        if self.declared:
            return f"pass {field}= to pulumi_oncall.Connection"
        flags = ("--secret " if field == "token" else "") + ("" if self.env else "--path ")
        command = f"`pulumi config set {flags}{getattr(self, field)} {example}`"
        return f"{command} or {self.ENV[field]}" if self.env and field in self.ENV else command


DEFAULT_KEYS = ConfigKeys()
DECLARED_KEYS = ConfigKeys(
    url="the url of the Connection",
    token="the token of the Connection",
    grafana_url="the grafana_url of the Connection",
    ca_bundle="the ca_bundle of the Connection",
    env=False,
    declared=True,
)
URL_KEY = DEFAULT_KEYS.url
TOKEN_KEY = DEFAULT_KEYS.token
GRAFANA_URL_KEY = DEFAULT_KEYS.grafana_url
CA_BUNDLE_KEY = DEFAULT_KEYS.ca_bundle
URL_ENV = ConfigKeys.ENV["url"]
TOKEN_ENV = ConfigKeys.ENV["token"]
GRAFANA_URL_ENV = ConfigKeys.ENV["grafana_url"]
CONNECTIONS_KEY = "oncall:connections"

# The keys of one entry of oncall:connections.
CONNECTION_FIELDS = ("url", "token", "grafanaUrl", "caBundle")
# The values of a `pulumi_oncall.Connection`, as the provider receives them.
DECLARED_FIELDS = ("url", "token", "grafana_url", "ca_bundle")

# Stack config keys for the retry policy, and the RetrySettings field each one sets.
RETRY_KEYS: dict[str, str] = {
    "oncall:requestTimeout": "timeout",
    "oncall:retryMaxElapsed": "max_elapsed",
    "oncall:retryMaxAttempts": "max_attempts",
    "oncall:retryMaxWait": "max_retry_after",
}

Getter = Callable[[str], Any]


@dataclass(frozen=True)
class Settings:
    url: str
    token: str
    grafana_url: str | None
    retry: RetrySettings
    # The config keys these came from, so that errors name the one to fix.
    keys: ConfigKeys = DEFAULT_KEYS
    # A PEM file of the CA certificates to trust instead of the bundled roots.
    ca_bundle: str | None = None

    def __repr__(self) -> str:
        return (
            f"Settings(url={without_credentials(self.url)!r}, token='***', "
            f"grafana_url={self.grafana_url!r}, ca_bundle={self.ca_bundle!r}, "
            f"retry={self.retry!r})"
        )

    @property
    def api_root(self) -> str:
        """The API root of `url`, or ConfigurationError naming the key to fix."""
        try:
            return api_root(self.url)
        except ConfigurationError:
            raise ConfigurationError(
                f"{self.keys.url} must be an http(s) URL such as https://oncall.example.com, "
                f"got {without_credentials(self.url)!r}"
            ) from None

    @property
    def endpoint(self) -> tuple[str, str | None]:
        """What identifies the OnCall organisation these settings reach."""
        return self.api_root, self.grafana_url


def load(get: Getter, env: Mapping[str, str], connection: str | None = None) -> Settings:
    """Settings of `connection` (None: the default one) from stack config via `get`.

    The default connection falls back to the environment; named ones come from
    `oncall:connections` alone.
    """
    if connection is None:
        keys = DEFAULT_KEYS
        url = get(URL_KEY) or env.get(URL_ENV)
        token = get(TOKEN_KEY) or env.get(TOKEN_ENV)
        grafana_url = get(GRAFANA_URL_KEY) or env.get(GRAFANA_URL_ENV)
        ca_bundle = get(CA_BUNDLE_KEY)
    else:
        entry = _connection_entry(get, connection)
        keys = ConfigKeys(
            url=f"{CONNECTIONS_KEY}.{connection}.url",
            token=f"{CONNECTIONS_KEY}.{connection}.token",
            grafana_url=f"{CONNECTIONS_KEY}.{connection}.grafanaUrl",
            ca_bundle=f"{CONNECTIONS_KEY}.{connection}.caBundle",
            env=False,
        )
        url, token, grafana_url, ca_bundle = (entry.get(k) for k in CONNECTION_FIELDS)
    where = f"connection {connection!r}" if connection else "OnCall"
    return _settings(url, token, grafana_url, ca_bundle, keys, where, get)


def declared(values: Mapping[str, Any], get: Getter) -> Settings:
    """Settings of a `pulumi_oncall.Connection` from its resolved values; the retry
    policy still comes from stack config via `get`."""
    unknown = sorted(set(values) - set(DECLARED_FIELDS))
    if unknown:
        raise ConfigurationError(
            f"the Connection has unknown value(s) {', '.join(unknown)}; expected "
            + ", ".join(DECLARED_FIELDS)
        )
    url, token, grafana_url, ca_bundle = (values.get(k) for k in DECLARED_FIELDS)
    settings = _settings(url, token, grafana_url, ca_bundle, DECLARED_KEYS, "the Connection", get)
    _ = settings.api_root  # a wrong URL fails the check, before any call
    return settings


def _settings(
    url: Any,
    token: Any,
    grafana_url: Any,
    ca_bundle: Any,
    keys: ConfigKeys,
    where: str,
    get: Getter,
) -> Settings:
    missing = []
    if not url:
        missing.append(
            f"the OnCall API URL: {keys.how_to_set('url', 'https://oncall.example.com')}"
        )
    if not token:
        missing.append(f"the OnCall API token: {keys.how_to_set('token', '...')}")
    if missing:
        verb = "is missing" if keys.declared else "is not configured; set"
        raise ConfigurationError(f"{where} {verb} " + " and ".join(missing))
    for value, field in (
        (url, "url"),
        (token, "token"),
        (grafana_url, "grafana_url"),
        (ca_bundle, "ca_bundle"),
    ):
        if value is not None and not isinstance(value, str):
            raise ConfigurationError(f"{keys.name(field)} must be a string")

    token = _normalise_token(str(token))
    if grafana_url:
        parts = urlsplit(str(grafana_url).strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigurationError(
                f"{keys.name('grafana_url')} must be the Grafana stack's URL, such as "
                f"https://mystack.grafana.net, got {grafana_url!r}"
            )
        grafana_url = str(grafana_url).strip().rstrip("/")
    elif token.startswith(SERVICE_ACCOUNT_PREFIX):
        raise ConfigurationError(
            "a Grafana service-account token (glsa_...) needs the URL of its Grafana "
            f"stack: {keys.how_to_set('grafana_url', 'https://mystack.grafana.net')}"
        )
    bundle = _ca_bundle(str(ca_bundle), keys) if ca_bundle else None
    return Settings(str(url).strip(), token, grafana_url or None, _retry(get), keys, bundle)


def _ca_bundle(path: str, keys: ConfigKeys) -> str:
    """The absolute path of a readable PEM file of CA certificates, or ConfigurationError.

    The path is written unquoted: check failures of secret inputs hide quoted text.
    """
    path = os.path.expanduser(path.strip())
    full = os.path.abspath(path)
    shown = path if path == full else f"{path} ({full})"
    if not os.path.isfile(full):
        raise ConfigurationError(
            f"{keys.name('ca_bundle')}: no file at {shown}; give the path of a PEM file of "
            "the CA certificates that signed the OnCall server's certificate"
        )
    try:
        ssl.create_default_context(cafile=full)
    except (OSError, ssl.SSLError, ValueError) as exc:
        raise ConfigurationError(
            f"{keys.name('ca_bundle')}: {shown} holds no PEM CA certificate that can be "
            f"loaded ({type(exc).__name__}); give a PEM file (-----BEGIN CERTIFICATE-----)"
        ) from None
    return full


def _normalise_token(token: str) -> str:
    token = token.strip()
    # OnCall wants the raw token; a pasted "Bearer ..." would only earn a 403.
    if token[:7].lower() == "bearer ":
        token = token[7:].strip()
    return token


def _connections(get: Getter) -> dict[str, Any]:
    raw = get(CONNECTIONS_KEY)
    if raw is None or raw == "":
        return {}
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raise ConfigurationError(
                f"{CONNECTIONS_KEY} must be an object of named connections; set its entries "
                f"with `pulumi config set --path {CONNECTIONS_KEY}.NAME.url ...`"
            ) from None
    if not isinstance(raw, Mapping):
        raise ConfigurationError(f"{CONNECTIONS_KEY} must be an object of named connections")
    return dict(raw)


def _connection_entry(get: Getter, name: str) -> Mapping[str, Any]:
    connections = _connections(get)
    entry = connections.get(name)
    if entry is None:
        known = ", ".join(repr(n) for n in sorted(connections)) or "none"
        raise ConfigurationError(
            f"connection {name!r} is not configured (configured: {known}); set it with "
            f"`pulumi config set --path {CONNECTIONS_KEY}.{name}.url https://...` and "
            f"`pulumi config set --secret --path {CONNECTIONS_KEY}.{name}.token ...`"
        )
    if not isinstance(entry, Mapping):
        raise ConfigurationError(
            f"{CONNECTIONS_KEY}.{name} must be an object with {', '.join(CONNECTION_FIELDS)}"
        )
    unknown = sorted(set(entry) - set(CONNECTION_FIELDS))
    if unknown:
        raise ConfigurationError(
            f"{CONNECTIONS_KEY}.{name} has unknown key(s) {', '.join(unknown)}; "
            f"expected {', '.join(CONNECTION_FIELDS)}"
        )
    return entry


def _retry(get: Getter) -> RetrySettings:
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
    return RetrySettings(**{**defaults.__dict__, **overrides})
