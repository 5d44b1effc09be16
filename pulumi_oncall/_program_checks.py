"""Checks that need the whole program, or values the provider never sees as such.

The provider checks one resource at a time, and sees neither which inputs are
secrets nor the program's other resources. These run in the program, at
registration: plain values at once, Outputs once they are known. A mistake stops
the program with a `ProgramError`.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Mapping
from typing import Any

import pulumi
from pulumi.runtime import settings as runtime_settings

from . import _model as model
from ._connection import from_program
from ._declared import Connection
from ._exceptions import NotFoundError, OnCallError, ProgramError


def plain_problems(resource_name: str, args: Mapping[str, Any]) -> None:
    """Mistakes in plain arguments that would be lost on the way to the provider.

    The SDK drops None values inside mappings, so `labels={"env": None}` would reach
    the provider as no labels at all.
    """
    for key in ("labels", "dynamic_labels"):
        value = args.get(key)
        if isinstance(value, Mapping):
            empty = [k for k, v in value.items() if v is None]
            if empty:
                raise ProgramError(
                    f"integration {resource_name!r}: {key}[{empty[0]!r}] is None; give the "
                    "label a non-empty value, or leave the key out"
                )
    connection = args.get("connection")
    if isinstance(connection, Connection):
        return
    if connection is not None and (not isinstance(connection, str) or not connection.strip()):
        shown = "an empty string" if connection == "" else model.kind_of(connection)
        raise ProgramError(
            f"integration {resource_name!r}: connection must be the name of an entry of "
            "oncall:connections, such as 'staging', a pulumi_oncall.Connection, or None for "
            f"the default; got {shown}"
        )


class _Names:
    """Who declared which integration name and import_id, in one program run."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.slots: dict[tuple[Any, ...], str] = {}


_runs: dict[int, tuple[object, _Names]] = {}
_runs_lock = threading.Lock()


def _names() -> _Names:
    # One registry per engine connection: each run (or set of mocks) has its own.
    monitor = runtime_settings.SETTINGS.monitor
    with _runs_lock:
        found = _runs.get(id(monitor))
        if found is None or found[0] is not monitor:
            found = _runs[id(monitor)] = (monitor, _Names())
        return found[1]


def claim_name(
    resource_name: str,
    name: pulumi.Input[str] | None,
    team_id: pulumi.Input[str] | None,
    connection: str | Connection | None,
    import_id: pulumi.Input[str] | None,
) -> None:
    """Fail the program when two resources declare one integration.

    Names are unique per team and connection on the server (after trimming), and
    two resources adopting one id would share an integration.
    """
    names = _names()
    # Two declarations with one plain URL reach one OnCall, whatever their tokens.
    oncall: Any = connection
    if isinstance(connection, Connection) and isinstance(connection.url, str):
        oncall = ("url", connection.url.strip().rstrip("/").lower())

    def claim(values: list[Any]) -> None:
        name_value, team_value, import_value = values
        slots: list[tuple[tuple[Any, ...], str]] = []
        if isinstance(name_value, str) and name_value.strip():
            team = team_value or None
            slots.append(
                (
                    ("name", oncall, team, name_value.strip()),
                    f"the name {name_value.strip()!r} in "
                    + (f"team {team}" if team else "no team"),
                )
            )
        if isinstance(import_value, str) and import_value:
            slots.append(((("import_id", oncall, import_value)), f"import_id {import_value!r}"))
        with names.lock:
            for slot, what in slots:
                other = names.slots.setdefault(slot, resource_name)
                if other != resource_name:
                    where = f" on connection {connection!r}" if connection else ""
                    raise ProgramError(
                        f"integrations {other!r} and {resource_name!r} both declare {what}"
                        f"{where}: one integration can belong to one resource only; give one "
                        "of them another name= (or team), or remove the duplicate"
                    )

    values = [name, team_id, import_id]
    if any(isinstance(v, pulumi.Output) for v in values):
        _: pulumi.Output[None] = pulumi.Output.all(*values).apply(claim)
    else:
        claim(values)


def announce_adoption(
    resource: pulumi.Resource,
    import_id: pulumi.Input[str] | None,
    connection: str | Connection | None,
    spec: Mapping[str, Any],
) -> None:
    """At preview, say what adopting `import_id` changes on the existing integration.

    The engine shows an adopting create as a plain `+ create`; only the program can
    add a line to it. Quiet when the declaration matches the server, so an adopted
    integration in sync says nothing.
    """
    if import_id is None or not pulumi.runtime.is_dry_run():
        return

    def announce(values: list[Any]) -> None:
        id_value, declared, known = values
        if not model.is_id(id_value) or not isinstance(declared, Mapping):
            return  # the provider's check reports it
        try:
            where = known._plain() if isinstance(known, Connection) else known
            if isinstance(known, Connection) and where is None:
                return
            remote = from_program(where).integrations.get(id_value)
        except NotFoundError:
            pulumi.log.warn(
                f"import_id {id_value!r}: no such integration on this OnCall; `pulumi up` "
                "will fail (python -m pulumi_oncall export lists every integration with its id)",
                resource=resource,
            )
            return
        except OnCallError:
            return  # the provider reports settings and server errors
        changes = sorted(
            model.dotted(path)
            for path, value in model.declared(model.normalise(declared)).items()
            if path != ("type",) and model.lookup(remote, path, value) != value
        )
        if changes:
            pulumi.log.info(
                f"import_id {id_value!r} is the existing integration {remote.get('name')!r}: "
                f"`pulumi up` changes {', '.join(changes)} on it and keeps everything "
                "else, its link included",
                resource=resource,
            )

    # Resolved without its secrecy: only what OnCall holds for import_id is logged.
    known = connection._resolved() if isinstance(connection, Connection) else connection
    _: pulumi.Output[None] = pulumi.Output.all(
        import_id, pulumi.Output.from_input(spec), known
    ).apply(announce)


def secret_keys(args: Mapping[str, Any]) -> pulumi.Output[list[str]] | None:
    """The arguments that hold a secret, for the provider, which cannot tell.

    None when every argument is plain (plain values are never secret).
    """
    pending = {k: v for k, v in args.items() if deferred(v)}
    if not pending:
        return None
    outputs = {k: pulumi.Output.from_input(v) for k, v in pending.items()}

    async def which() -> list[str]:
        return sorted([k for k, o in outputs.items() if await o.is_secret()])

    return pulumi.Output.from_input(which())


def deferred(value: Any) -> bool:
    """Whether `value` holds anything not known yet: an Output or an awaitable."""
    if isinstance(value, Mapping):
        return any(deferred(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(deferred(v) for v in value)
    return isinstance(value, pulumi.Output) or inspect.isawaitable(value)
