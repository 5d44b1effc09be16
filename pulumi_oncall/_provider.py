"""The dynamic provider: thin glue between the Pulumi engine, `model` and `client`."""

from __future__ import annotations

import difflib
import os
import re
import sys
import traceback
import types
from collections.abc import Mapping
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
from pulumi.runtime.rpc import is_rpc_secret

from . import _config as config
from . import _model as model
from . import _routes as routes
from . import _schema as schema
from ._catalog import describe
from ._client import JSONObject, OnCallClient, api_root
from ._connection import Configuration, Connection, Named
from ._exceptions import (
    AuthError,
    ConfigurationError,
    ConflictError,
    NotFoundError,
    OnCallError,
    ValidationError,
)

PROVIDER_KEY = "__provider"
# The program's list of the inputs that hold secrets: the engine strips that
# knowledge before it calls a dynamic provider.
SECRET_KEYS = "__secret_inputs"


class IntegrationProvider(ResourceProvider):
    """CRUD of one OnCall integration.

    Pulumi serialises this object into the state. It carries nothing: endpoints and
    tokens are read in `configure`, in each provider process, so no token reaches the
    state and rotating one takes effect on the next run. The state records only the
    name of the integration's connection, or, for a `pulumi_oncall.Connection` of the
    program, its values (the token a secret).
    """

    serialize_as_secret_always = False

    def __init__(self) -> None:
        self._configuration: Configuration | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__()  # type: ignore[misc]

    # -- configuration ------------------------------------------------------

    def configure(self, req: ConfigureRequest) -> None:
        _quiet_tracebacks()
        self.configure_from(req.config.get, os.environ)

    def configure_from(self, get: config.Getter, env: Mapping[str, str]) -> None:
        self._configuration = Configuration(get, env)

    def _configured(self) -> Configuration:
        found = self._configuration
        if found is None:
            raise ConfigurationError("the provider was not configured")
        return found

    def settings(self, connection: Named) -> config.Settings:
        """The settings of a connection (None: the default one; a mapping: a declared
        one's values), or ConfigurationError."""
        return self._configured().settings(connection)

    def connection(self, connection: Named = None) -> Connection:
        """The connection of that name (None: the default one), or ConfigurationError."""
        return self._configured().connection(connection)

    def client(self, connection: Named = None) -> OnCallClient:
        return self.connection(connection).client

    # -- engine operations --------------------------------------------------

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        inputs = model.normalise(_from_engine(news))
        secret = inputs.get(SECRET_KEYS)
        secret_keys = frozenset(secret) if isinstance(secret, list) else frozenset()
        problems = model.validate(inputs)
        connection = inputs.get("connection")
        if model.is_unknown(connection) or any(p == "connection" for p, _ in problems):
            # Where to look is not known (or not valid): references are checked when it is.
            return CheckResult(inputs, _failures(problems, secret_keys))
        try:
            self.settings(connection)
        except ConfigurationError as exc:
            problems.append(("connection" if connection else "", str(exc)))
        if not problems:
            # Only a valid spec is worth the (cached) calls that check references.
            problems = self._check_references(inputs)
        return CheckResult(inputs, _failures(problems, secret_keys))

    def _check_references(self, inputs: dict[str, Any]) -> list[tuple[str, str]]:
        team_id = inputs.get("team_id")
        chain_id = model.lookup(inputs, ("default_route", "escalation_chain_id"))
        references = [
            ("team_id", team_id, "team"),
            ("default_route.escalation_chain_id", chain_id, "escalation chain"),
        ]
        declared_routes = inputs.get("routes")
        for i, route in enumerate(declared_routes if isinstance(declared_routes, list) else []):
            if isinstance(route, Mapping):
                label = f" ({route['name']!r})" if isinstance(route.get("name"), str) else ""
                where = f"routes[{i}]{label}.escalation_chain_id"
                references.append((where, route.get("escalation_chain_id"), "escalation chain"))
        wanted = [
            (path, value, kind)
            for path, value, kind in references
            if isinstance(value, str) and value and not model.is_unknown(value)
        ]
        problems = self._check_backends(inputs)
        if not wanted:
            return problems
        try:
            known = self.connection(inputs.get("connection"))
            for path, value, kind in wanted:
                listed = known.teams if kind == "team" else known.escalation_chains
                items = listed.get()
                if not any(item.get("id") == value for item in items):
                    problems.append((path, _missing_reference(kind, value, items)))
            return problems
        except OnCallError as exc:
            return [("", f"could not check team and escalation chain ids: {exc}")]

    def _check_backends(self, inputs: dict[str, Any]) -> list[tuple[str, str]]:
        """Cloud-only route backends, refused at preview where the server is known to
        lack them: any of its integrations' bodies tells (one cached call)."""
        blocks = [
            ("default_route", inputs.get("default_route")),
            *_route_blocks(inputs.get("routes")),
        ]
        if not any(_lacking(blocks, None)):
            return []
        try:
            sample = self.connection(inputs.get("connection")).sample.get()
        except OnCallError:
            return []  # not known: the update refuses it before any write
        route = sample[0].get("default_route") if sample else None
        if not isinstance(route, Mapping):
            return []
        return [
            (
                f"{where}.{key}",
                f"this OnCall has no {key} backend (it exists only on Grafana Cloud)",
            )
            for where, keys in _lacking(blocks, route)
            for key in keys
        ]

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        olds, news = _from_engine(olds), _from_engine(news)
        result = model.diff(olds, news)
        changes, replaces = list(result.changed), list(result.replaces)
        if _routes_change(olds.get("routes"), news.get("routes")):
            changes.append("routes")
        delete_first = result.delete_before_replace
        old_conn, new_conn = olds.get("connection"), news.get("connection")
        if old_conn != new_conn:
            changes.append("connection")
            if not self._same_endpoint(old_conn, new_conn):
                # Another OnCall: create there first, then delete here.
                replaces.append("connection")
                delete_first = False
        return DiffResult(
            changes=bool(changes),
            replaces=replaces,
            delete_before_replace=delete_first and bool(replaces),
        )

    def _same_endpoint(self, a: Any, b: Any) -> bool:
        """Whether two connections (names or declared values) reach the same OnCall
        organisation. A declared one's token and CA bundle do not count: a new token
        (a rotation) is an update with no write, not a replacement."""
        try:
            ends = [self._endpoint(c) for c in (a, b)]
        except ConfigurationError:
            return False
        return ends[0] is not None and ends[0] == ends[1]

    def _endpoint(self, connection: Any) -> tuple[str, str | None] | None:
        """The organisation a connection reaches; None when not known yet."""
        if isinstance(connection, Mapping):
            url, grafana_url = connection.get("url"), connection.get("grafana_url")
            if model.is_unknown(url) or model.is_unknown(grafana_url):
                return None
            if not isinstance(url, str) or not isinstance(grafana_url, (str, type(None))):
                return None
            stack = grafana_url.strip().rstrip("/") if grafana_url else ""
            return api_root(url), stack or None
        if model.is_unknown(connection):
            return None
        return self.settings(connection).endpoint

    def create(self, props: dict[str, Any]) -> CreateResult:
        props = _from_engine(props)
        name = props.get("name")
        connection = props.get("connection")
        try:
            client = self.client(connection)
            adopting = bool(props.get("import_id"))
            remote = self._adopt(client, props) if adopting else self._create(client, props)
            outputs = model.outputs(remote, props)
            if props.get("routes") is not None:
                try:
                    # A new integration has only its default route: nothing to list.
                    outputs["routes"] = _sync_routes(
                        client, remote, props["routes"], (), None if adopting else []
                    )
                except OnCallError:
                    if not adopting:
                        # Leave nothing behind that the state does not know about.
                        client.delete_integration(remote["id"])
                    raise
        except OnCallError as exc:
            raise _named(exc, name) from None
        self.connection(connection).integrations.written(remote["id"])
        self.connection(connection).routes.written(remote["id"])
        return CreateResult(remote["id"], outputs)

    def _create(self, client: OnCallClient, props: dict[str, Any]) -> JSONObject:
        try:
            remote = client.create_integration(model.create_payload(props))
        except ValidationError as exc:
            if not any("already exists" in e for e in exc.errors):
                raise
            existing = client.find_integration(props["name"], props.get("team_id") or None)
            raise ConflictError(_conflict_message(props, existing)) from None
        missing = model.not_kept_reasons(props, remote)
        if missing:
            # Leave nothing behind that the state does not know about.
            client.delete_integration(remote["id"])
            raise OnCallError(
                "the server did not store " + ", ".join(missing) + "; nothing was created"
            )
        return remote

    def _adopt(self, client: OnCallClient, props: dict[str, Any]) -> JSONObject:
        """Take an existing integration into the state, changing only what differs."""
        import_id = props["import_id"]
        try:
            remote = client.get_integration(import_id)
        except NotFoundError:
            raise OnCallError(
                f"import_id {import_id!r}: no such integration on {client.base_url}; check the "
                "id (`python -m pulumi_oncall export` lists every integration with its id)"
            ) from None
        if remote.get("type") != props.get("type"):
            raise OnCallError(
                f"import_id {import_id!r} is of type {remote.get('type')!r}, not "
                f"{props.get('type')!r}, and the type of an integration cannot change: "
                f"declare type={remote.get('type')!r}"
            )
        unsupported = model.fields_without_place(remote, props)
        if unsupported:
            raise OnCallError(
                "this server cannot store " + ", ".join(unsupported) + f"; import_id {import_id} "
                "was left untouched"
            )
        payload = model.adopt_payload(remote, props)
        if not payload:
            return remote
        updated = client.update_integration(import_id, payload)
        return updated

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        props = _from_engine(props)
        connection = props.get("connection")
        getting = not model.declared(props)  # Integration.get: nothing is declared
        try:
            if not model.is_id(id_):
                raise NotFoundError(f"{id_!r} is not an integration id")
            remote = self.read_integration(connection, id_)
        except NotFoundError:
            if getting:
                raise OnCallError(
                    f"Integration.get: no integration with id {id_!r} on this OnCall (ids are "
                    "ASCII letters and digits, such as 'CABC123'); look one up by name with "
                    'pulumi_oncall.get_integration(name="...").id'
                ) from None
            return ReadResult(None, {})
        except AuthError as exc:
            raise _named(self._recorded_settings_hint(exc, connection), props.get("name")) from None
        except OnCallError as exc:
            raise _named(exc, props.get("name")) from None
        spec = model.adoptable_spec(remote) if getting else props
        spec = {**spec, "connection": connection, "import_id": props.get("import_id")}
        outs = model.outputs(remote, spec)
        if isinstance(props.get("routes"), list):
            try:
                listed = self.read_routes(connection, id_)
            except NotFoundError:
                listed = []
            except OnCallError as exc:
                raise _named(exc, props.get("name")) from None
            outs["routes"] = routes.state_entries(routes.normal(listed), props["routes"])
        if _held(outs) == _held(props):
            # Nothing drifted: the inputs the engine holds stay as right as they were.
            return ReadResult(id_, outs)
        inputs = {k: outs[k] for k in schema.PROVIDER_FIELDS if outs.get(k) is not None}
        return ReadResult(id_, outs, inputs)

    def read_integration(self, connection: str | None, id_: str) -> JSONObject:
        """The integration's body for a read, or NotFoundError: served from one list
        of the server's integrations when that is cheaper than a GET each."""
        found: JSONObject = self.connection(connection).integrations.get(id_)
        return found

    def read_routes(self, connection: str | None, id_: str) -> list[JSONObject]:
        """The integration's routes for a read, likewise from the list of all routes."""
        found: list[JSONObject] = self.connection(connection).routes.get(id_)
        return found

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        olds, news = _from_engine(olds), _from_engine(news)
        name = news.get("name")
        # Same endpoint as the state's (or diff would have replaced it).
        connection = news.get("connection")
        try:
            client = self.client(connection)
            payload = model.update_payload(olds, news)
            if _needs_server_view(payload):
                current = client.get_integration(id_)
                # A server that would silently drop part of the change gets none of it.
                unsupported = model.fields_without_place(current, news)
                if unsupported:
                    raise OnCallError(
                        "this server cannot store " + ", ".join(unsupported) + "; nothing "
                        "was changed"
                    )
                payload = model.keep_server_labels(payload, current, news)
            remote = client.update_integration(id_, payload) if payload else None
            if remote is None:
                remote = client.get_integration(id_)
            missing = model.not_kept_reasons(news, remote)
            if missing:
                raise OnCallError("the server did not store " + ", ".join(missing))
            outputs = model.outputs(remote, news)
            old_routes, new_routes = olds.get("routes"), news.get("routes")
            if _routes_change(old_routes, new_routes):
                # Removed, the argument clears them, as labels.
                outputs["routes"] = _sync_routes(
                    client, remote, new_routes or [], old_routes or [], None
                )
                if new_routes is None:
                    outputs["routes"] = None
            else:
                outputs["routes"] = old_routes
        except OnCallError as exc:
            raise _named(exc, name) from None
        self.connection(connection).integrations.written(remote["id"])
        self.connection(connection).routes.written(remote["id"])
        return UpdateResult(outputs)

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        props = _from_engine(props)
        connection = props.get("connection")
        try:
            self.client(connection).delete_integration(id_)
        except NotFoundError:
            pass  # already gone: the goal is reached
        except AuthError as exc:
            raise _named(self._recorded_settings_hint(exc, connection), props.get("name")) from None
        except OnCallError as exc:
            raise _named(exc, props.get("name")) from None
        self.connection(connection).integrations.forget(id_)
        self.connection(connection).routes.forget(id_)

    def _recorded_settings_hint(self, exc: AuthError, connection: Named) -> AuthError:
        """Add to a refused read or delete why a token fixed in config may not be in use.

        Without --run-program, destroy and refresh configure the provider from the
        config recorded in the state by the last update, not from the stack's.
        """
        if isinstance(connection, Mapping):
            exc.args = (
                f"{exc}. `pulumi destroy` and `pulumi refresh` use the Connection's token "
                "stored in the state by the last `pulumi up`: if the token was rotated since, "
                "run `pulumi up` first (it stores the new one without any write to OnCall)",
            )
            return exc
        key = f"{config.CONNECTIONS_KEY}.{connection}.token" if connection else config.TOKEN_KEY
        text = (
            f"{exc}. `pulumi destroy` and `pulumi refresh` use the settings recorded by the "
            "last `pulumi up`, not the stack's current config, unless run with "
            f"`--run-program`: if {key} was fixed since, run them with `--run-program` "
            "(`python -m pulumi_oncall destroy` and `refresh` pass it) or run `pulumi up` first"
        )
        env = config.TOKEN_ENV
        if connection:
            pass  # named connections never read the environment
        elif self._configured().get(config.TOKEN_KEY):
            text += (
                f". {env} is read from the environment at every run, but only where no {key} "
                f"is set, recorded or current: to rely on it, `pulumi config rm {key}` and run "
                "`pulumi up` once"
            )
        else:
            text += (
                f". This token came from {env}, which is read from the environment at every "
                "run: set it to a valid token"
            )
        exc.args = (text,)
        return exc


_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")


def _failures(problems: list[tuple[str, str]], secret_keys: frozenset[str]) -> list[CheckFailure]:
    """Check failures; those on a secret input name it in the reason only.

    The engine prints the value of a failure's property, secret or not. Reasons never
    repeat a value of free text.
    """
    failures = []
    for prop, reason in problems:
        if re.split(r"[.\[ ]", prop, maxsplit=1)[0] in secret_keys:
            shown = reason if reason.startswith(prop) else f"{prop}: {reason}"
            # Jinja's messages quote the template's own tokens.
            shown = _QUOTED.sub("'...'", shown)
            failures.append(CheckFailure("", f"{shown} (a secret: its value is not shown)"))
        else:
            failures.append(CheckFailure(prop, reason))
    return failures


def _routes_change(olds: Any, news: Any) -> bool:
    """Whether declared routes differ from the state's; never declared is never a change."""
    if model.is_unknown(news):
        return True
    if news is None:
        return bool(olds)  # removing the argument clears them
    return routes.differs(olds if isinstance(olds, list) else None, news)


def _sync_routes(
    client: OnCallClient,
    integration: Mapping[str, Any],
    declared: list[dict[str, Any]],
    previous: Any,
    remote: list[dict[str, Any]] | None,
) -> list[dict[str, Any]]:
    """Reconcile the integration's routes; the state's entries after it."""
    # The server silently drops a backend it does not have: refuse before any write.
    have = integration.get("default_route")
    for where, missing in _lacking(
        _route_blocks(declared), have if isinstance(have, Mapping) else {}
    ):
        raise OnCallError(
            f"{where}: this server has no {', '.join(missing)} backend "
            "(it exists only on Grafana Cloud); no route was changed"
        )
    previous_entries = previous if isinstance(previous, list) else []
    return routes.apply(client, str(integration["id"]), declared, previous_entries, remote)


def _route_blocks(declared: Any) -> list[tuple[str, Any]]:
    """Each declared route with the path a message names it by."""
    blocks = []
    for i, route in enumerate(declared if isinstance(declared, list) else []):
        name = route.get("name") if isinstance(route, Mapping) else None
        blocks.append((f"routes[{i}]" + (f" ({name!r})" if name else ""), route))
    return blocks


def _lacking(
    blocks: list[tuple[str, Any]], server_route: Mapping[str, Any] | None
) -> list[tuple[str, list[str]]]:
    """Per block, the Cloud-only backends it sets that the server's route body lacks
    (with no body, every one it sets). A body that names no backend tells nothing."""
    found = []
    for where, block in blocks:
        if not isinstance(block, Mapping):
            continue
        keys = [
            key
            for key in sorted(schema.CLOUD_ONLY_ROUTE_BACKENDS)
            if block.get(key) is not None
            and (server_route is None or (server_route and key not in server_route))
        ]
        if keys:
            found.append((where, keys))
    return found


def _needs_server_view(payload: Mapping[str, Any]) -> bool:
    """Whether an update must see the integration first: to refuse fields the server
    cannot store, and to keep the labels it added itself."""
    if payload.get("labels") or "dynamic_labels" in payload:
        return True
    templates = payload.get("templates") or {}
    route = payload.get("default_route") or {}
    return bool(
        schema.CLOUD_ONLY_TEMPLATE_GROUPS & set(templates)
        or schema.CLOUD_ONLY_ROUTE_BACKENDS & set(route)
    )


def _conflict_message(props: Mapping[str, Any], existing: JSONObject | None) -> str:
    team = props.get("team_id")
    where = f"team {team}" if team else "no team"
    if existing is None:
        found = ""
        adopt = 'adopt it with import_id="C..." (its id)'
    else:
        found = f" (id {existing['id']}, type {existing.get('type')})"
        adopt = f"adopt it with import_id={existing['id']!r}"
    return (
        f"an integration named {props.get('name')!r} already exists in {where}{found}. "
        f"To manage that one, {adopt}; to create a new one, give this resource another name="
    )


def _missing_reference(kind: str, value: str, items: list[dict[str, Any]]) -> str:
    # Ids are case-sensitive, but a wrong case is the likeliest typo.
    by_upper = {str(i.get("id")).upper(): i for i in items}
    close = difflib.get_close_matches(value.upper(), list(by_upper), n=1, cutoff=0.7)
    getter = "get_team" if kind == "team" else "get_escalation_chain"
    if close:
        match = by_upper[close[0]]
        hint = f"did you mean {match.get('id')!r} ({match.get('name')!r})?"
    else:
        hint = f"existing: {describe(items)}."
    return (
        f"no {kind} with id {value!r} on this OnCall; {hint} Look ids up by name with "
        f'pulumi_oncall.{getter}(name="...").id'
    )


def _from_engine(value: Any) -> Any:
    """Engine values as plain data: secrets unwrapped, unknowns as `model.UNKNOWN`."""
    # Scalars first: they are most of what a resource holds.
    if isinstance(value, (str, int, float)) or value is None:
        return value
    if isinstance(value, dict):
        if is_rpc_secret(value):
            return _from_engine(value["value"])
        return {k: _from_engine(v) for k, v in value.items() if k != PROVIDER_KEY}
    if isinstance(value, list):
        return [_from_engine(v) for v in value]
    if isinstance(value, Unknown):
        return model.UNKNOWN
    return value


def _held(value: Any) -> Any:
    """`value` as the engine keeps it: a property that is None is not stored at all."""
    if isinstance(value, dict):
        return {k: _held(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_held(v) for v in value]
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
