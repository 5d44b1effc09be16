"""`/emulator/...`: the admin API that tests and scripts drive the emulator with.

Never faulted, throttled or logged; guarded by the admin secret when there is one.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from . import integrations
from .constants import ADMIN_PREFIX
from .errors import detail
from .faults import FaultSettingsError
from .integrations import new_id
from .state import SettingsError
from .web import json_response, no_content, parse_json, state, write

blueprint = Blueprint("admin", __name__, url_prefix=ADMIN_PREFIX.rstrip("/"))


def _body() -> dict[str, Any]:
    raw = request.get_data(cache=True)
    body = parse_json(raw) if raw else {}
    if not isinstance(body, dict):
        raise detail("expected a JSON object")
    return body


def _name(body: dict[str, Any]) -> str:
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise detail("name must be a non-empty string")
    return name.strip()


def _id(body: dict[str, Any], prefix: str) -> str:
    given = body.get("id")
    if given is None:
        return new_id(prefix)
    if not isinstance(given, str) or not given:
        raise detail("id must be a non-empty string")
    return given


@blueprint.get("/health/")
def health() -> Response:
    return json_response({"status": "ok", "flavour": state().flavour.name})


@blueprint.get("/requests/")
def requests() -> Response:
    return json_response({"requests": state().log.entries()})


@blueprint.delete("/requests/")
def clear_requests() -> Response:
    state().log.clear()
    return no_content()


@blueprint.get("/faults/")
def faults() -> Response:
    return json_response(state().faults.settings.to_json())


@blueprint.put("/faults/")
def set_faults() -> Response:
    injector = state().faults
    try:
        injector.settings = injector.settings.updated(_body())
    except FaultSettingsError as exc:
        raise detail(str(exc)) from exc
    return json_response(injector.settings.to_json())


@blueprint.get("/settings/")
def settings() -> Response:
    return json_response(state().settings_json())


@blueprint.put("/settings/")
def set_settings() -> Response:
    try:
        state().update_settings(_body())
    except SettingsError as exc:
        raise detail(str(exc)) from exc
    return settings()


@blueprint.get("/teams/")
def teams() -> Response:
    return json_response({"teams": state().store.list_teams()})


@blueprint.post("/teams/")
def add_team() -> Response:
    body = _body()
    return json_response(state().store.put_team(_id(body, "T"), _name(body)), 201)


@blueprint.get("/escalation_chains/")
def chains() -> Response:
    return json_response({"escalation_chains": state().store.list_chains()})


@blueprint.post("/escalation_chains/")
def add_chain() -> Response:
    body = _body()
    team_id = body.get("team_id")
    if team_id is not None and not isinstance(team_id, str):
        raise detail("team_id must be a string or null")
    chain = state().store.put_chain(_id(body, "F"), _name(body), team_id)
    return json_response(chain, 201)


@blueprint.get("/integrations/")
def all_integrations() -> Response:
    include_deleted = request.args.get("include_deleted", "") not in ("", "0", "false")
    ctx = state().context()
    rows = [
        {**integrations.render(rec, ctx), "deleted": rec.deleted, "hidden": rec.hidden}
        for rec in ctx.store.all_integrations(include_deleted)
    ]
    return json_response({"integrations": rows})


@blueprint.post("/integrations/")
def add_integration() -> Response:
    ctx = state().context()
    with write():
        rec = integrations.seed(_body(), ctx)
    assert rec is not None
    return json_response(integrations.render(rec, ctx), 201)


@blueprint.post("/reset/")
def reset() -> Response:
    state().reset()
    return no_content()
