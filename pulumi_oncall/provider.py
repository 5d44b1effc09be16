"""The dynamic provider: thin glue between the Pulumi engine, `model` and `client`."""

from __future__ import annotations

import os
import sys
import threading
import traceback
import types
from typing import Any

from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    ConfigureRequest,
    CreateResult,
    DiffResult,
    ReadResult,
    ResourceProvider,
    UpdateResult,
)
from pulumi.output import Unknown
from pulumi.runtime.rpc import unwrap_rpc_secret

from . import config, model, schema
from .client import OnCallClient
from .exceptions import (
    ConfigurationError,
    ConflictError,
    NotFoundError,
    OnCallError,
    ValidationError,
)

PROVIDER_KEY = "__provider"

_clients: dict[tuple[str, str, Any], OnCallClient] = {}
_clients_lock = threading.Lock()


def shared_client(settings: config.Settings) -> OnCallClient:
    """One pooled client per process, shared by the engine's concurrent operations."""
    key = (settings.url, settings.token, settings.retry)
    with _clients_lock:
        client = _clients.get(key)
        if client is None or client.closed:
            client = _clients[key] = OnCallClient(
                settings.url, settings.token, retry=settings.retry
            )
        return client


class IntegrationProvider(ResourceProvider):
    """CRUD of one OnCall integration.

    Pulumi serialises this object into the state. It carries nothing: the endpoint
    and token are read in `configure`, in each provider process, so the token never
    reaches the state and rotating it takes effect on the next run.
    """

    serialize_as_secret_always = False
    # Serve reads from one list of the server's integrations when that is cheaper
    # than a GET each; False reads with one GET per integration.
    bulk_reads = True

    def __init__(self) -> None:
        self._settings: config.Settings | None = None
        self._config_error: str | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__()  # type: ignore[misc]

    # -- configuration ------------------------------------------------------

    def configure(self, req: ConfigureRequest) -> None:
        _quiet_tracebacks()
        self.configure_from(req.config.get, os.environ)

    def configure_from(self, get: Any, env: Any) -> None:
        try:
            self._settings = config.load(get, env)
            self._config_error = None
        except OnCallError as exc:
            self._settings, self._config_error = None, str(exc)

    @property
    def client(self) -> OnCallClient:
        if self._settings is None:
            raise ConfigurationError(self._config_error or "the provider was not configured")
        return shared_client(self._settings)

    # -- engine operations --------------------------------------------------

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        inputs = model.normalise(_plain(news))
        failures = [CheckFailure(prop, reason) for prop, reason in model.validate(inputs)]
        if self._settings is None and self._config_error:
            failures.append(CheckFailure("", self._config_error))
        return CheckResult(inputs, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        result = model.diff(_plain(olds), _plain(news))
        return DiffResult(
            changes=bool(result.changed),
            replaces=list(result.replaces),
            delete_before_replace=result.delete_before_replace,
        )

    def create(self, props: dict[str, Any]) -> CreateResult:
        props = _plain(props)
        name = props.get("name")
        try:
            try:
                remote = self.client.create_integration(model.create_payload(props))
            except ValidationError as exc:
                if not any("already exists" in e for e in exc.errors):
                    raise
                remote = self._adopt(props)
        except OnCallError as exc:
            raise _named(exc, name) from None
        missing = model.unstored(props, remote)
        if missing:
            # Leave nothing behind that the state does not know about.
            self.client.delete_integration(remote["id"])
            raise _named(
                OnCallError(
                    "the server did not store " + ", ".join(missing) + "; remove "
                    "them from the program or use a server that supports them"
                ),
                name,
            )
        return CreateResult(remote["id"], model.outputs(remote, props))

    def _adopt(self, props: dict[str, Any]) -> dict[str, Any]:
        # An earlier run may have created it and died before saving the id. Adopt it
        # only when it is exactly what this resource declares.
        existing = self.client.find_integration(props["name"], props.get("team_id"))
        if existing is None or not model.matches(existing, props):
            where = f"team {props.get('team_id')}" if props.get("team_id") else "no team"
            found = f" (id {existing['id']})" if existing else ""
            raise ConflictError(
                f"an integration named {props['name']!r} already exists in {where}{found} "
                "and differs from this resource. Rename this resource's integration, or "
                "adopt it by declaring it exactly as it is on the server"
            )
        return existing

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        props = _plain(props)
        try:
            remote = self.client.get_integration(id_)
        except NotFoundError:
            return ReadResult(None, {})
        except OnCallError as exc:
            raise _named(exc, props.get("name")) from None
        spec = props if model.declared(props) else model.adoptable_spec(remote)
        outs = model.outputs(remote, spec)
        inputs = {k: outs[k] for k in schema.API_FIELDS if outs.get(k) is not None}
        return ReadResult(id_, outs, inputs)

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        olds, news = _plain(olds), _plain(news)
        name = news.get("name")
        try:
            remote = self.client.update_integration(id_, model.update_payload(olds, news))
        except OnCallError as exc:
            raise _named(exc, name) from None
        missing = model.unstored(news, remote)
        if missing:
            raise _named(OnCallError("the server did not store " + ", ".join(missing)), name)
        return UpdateResult(model.outputs(remote, news))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        try:
            self.client.delete_integration(id_)
        except NotFoundError:
            pass  # already gone: the goal is reached
        except OnCallError as exc:
            raise _named(exc, props.get("name")) from None


def _plain(value: Any) -> Any:
    """Engine values as plain data: secrets unwrapped, unknowns as `model.UNKNOWN`."""
    value = unwrap_rpc_secret(value)
    if isinstance(value, Unknown):
        return model.UNKNOWN
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if k != PROVIDER_KEY}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _named(exc: OnCallError, name: Any) -> OnCallError:
    """Prefix the integration's name, so a message read alone still says which one."""
    if name and not str(exc).startswith("integration "):
        exc.args = (f"integration {name!r}: {exc}",)
    return exc


def _format_exc() -> str:
    exc = sys.exc_info()[1]
    if isinstance(exc, OnCallError):
        return str(exc)
    return traceback.format_exc()


def _quiet_tracebacks() -> None:
    """Report our errors as their message alone.

    The dynamic provider host answers every exception with a full traceback; ours
    are complete, user-facing messages, and a traceback only buries them.
    """
    host = sys.modules.get("__main__")
    if host is not None and hasattr(host, "DynamicResourceProviderServicer"):
        host.traceback = types.SimpleNamespace(format_exc=_format_exc)  # type: ignore[attr-defined]
