"""The integration rules: validation, partial merge, rendering, persistence.

Callers hold `store.transaction()` around create/update/delete, so every check
and the write it guards happen atomically and a refused request changes nothing.
"""

from __future__ import annotations

import copy
import secrets
import string
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from pulumi_oncall.schema import DESCRIPTION_MAX_LENGTH, TEMPLATE_FIELDS
from pulumi_oncall.templating import compile_error

from .errors import ApiError, detail, not_found
from .flavours import DISPLAY_NAMES, HIDDEN_TYPES, LINKLESS_TYPES, Flavour
from .store import IntegrationRecord, Store

REFUSED: dict[str, str] = {
    "direct_paging": "Direct paging integrations can't be created",
    "legacy_alertmanager": "This integration type is deprecated",
    "legacy_grafana_alerting": "This integration type is deprecated",
}
NAME_TAKEN = "An integration with this name already exists for this team"
GRAFANA_UNREACHABLE = "Failed to create the integration because the Grafana instance is unreachable"
SLACK_NOT_CONNECTED = "Slack isn't connected to this workspace"

REQUIRED = "This field is required."
NULL = "This field may not be null."
BLANK = "This field may not be blank."
NOT_STRING = "Not a valid string."
NO_OBJECT = "Object does not exist"

# Backends enabled unless told otherwise.
ENABLED_BY_DEFAULT = frozenset({"slack"})

_ID_ALPHABET = string.ascii_uppercase + string.digits
# DRF's BooleanField values (1 and 0 are True and False in a set).
_TRUE = {True, "1", "t", "T", "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On"}
_FALSE = {False, "0", "f", "F", "n", "N", "no", "No", "NO", "false", "False", "FALSE", "off"}


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


@dataclass
class Context:
    store: Store
    flavour: Flavour
    public_url: str
    slack_connected: bool
    grafana_reachable: bool


def new_id(prefix: str) -> str:
    return prefix + "".join(secrets.choice(_ID_ALPHABET) for _ in range(12))


def _link_token() -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(25))


def _inbound_email() -> str:
    alphabet = string.ascii_lowercase + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(16)) + "@inbound.oncall.local"


# Rendering


def render(rec: IntegrationRecord, ctx: Context) -> dict[str, Any]:
    link = (
        f"{ctx.public_url}/integrations/v1/{rec.type}/{rec.link_token}/" if rec.link_token else None
    )
    obj: dict[str, Any] = {
        "maintenance_mode": None,
        "maintenance_started_at": None,
        "maintenance_end_at": None,
        "id": rec.id,
        "name": rec.name,
        "description_short": rec.description_short,
        "team_id": rec.team_id,
        "link": link,
        "inbound_email": rec.inbound_email,
        "type": rec.type,
        "templates": _render_templates(rec.templates, ctx.flavour),
        "heartbeat": {"link": f"{link}heartbeat/"} if link else None,
        "default_route": _render_route(rec.route, ctx.flavour),
    }
    if ctx.flavour.labels:
        obj["labels"] = []
    return obj


def _render_templates(stored: dict[str, Any], flavour: Flavour) -> dict[str, Any]:
    out: dict[str, Any] = {k: stored.get(k) for k in TEMPLATE_FIELDS}
    for group, fields in flavour.template_groups.items():
        values = stored.get(group) or {}
        out[group] = {f: values.get(f) for f in fields}
    return out


def _render_route(stored: dict[str, Any], flavour: Flavour) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": stored.get("id"),
        "escalation_chain_id": stored.get("escalation_chain_id"),
    }
    backends = stored.get("backends") or {}
    for backend, key in flavour.route_backends.items():
        values = backends.get(backend) or {}
        out[backend] = {
            key: values.get(key),
            "enabled": values.get("enabled", backend in ENABLED_BY_DEFAULT),
        }
    return out


# Parsing of request fields. Each parser records field errors in `errors` and
# returns the value, MISSING when absent or invalid.


def _expect_object(body: Any) -> dict[str, Any]:
    if body is None:
        raise ApiError(400, {"non_field_errors": ["No data provided"]})
    if not isinstance(body, dict):
        kind = type(body).__name__
        raise ApiError(
            400, {"non_field_errors": [f"Invalid data. Expected a dictionary, but got {kind}."]}
        )
    return body


def _parse_type(data: dict[str, Any], errors: dict[str, Any], flavour: Flavour) -> Any:
    if "type" not in data:
        errors["type"] = [REQUIRED]
        return MISSING
    value = data["type"]
    if value is None:
        errors["type"] = [NULL]
        return MISSING
    if isinstance(value, str) and not value.strip():
        errors["type"] = [BLANK]
        return MISSING
    if isinstance(value, str) and value in REFUSED:
        raise detail(REFUSED[value])
    if not isinstance(value, str) or value not in flavour.types:
        raise detail("Invalid integration type")
    return value


def _parse_string(
    data: dict[str, Any],
    key: str,
    errors: dict[str, Any],
    *,
    allow_null: bool,
    allow_blank: bool,
    max_length: int | None = None,
) -> Any:
    if key not in data:
        return MISSING
    value = data[key]
    if value is None:
        if not allow_null:
            errors[key] = [NULL]
            return MISSING
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        errors[key] = [NOT_STRING]
        return MISSING
    value = value.strip()
    if not value and not allow_blank:
        errors[key] = [BLANK]
        return MISSING
    if max_length is not None and len(value) > max_length:
        errors[key] = [f"Ensure this field has no more than {max_length} characters."]
        return MISSING
    return value


def _parse_related(
    value: Any, key: str, errors: dict[str, Any], lookup: Callable[[str], Any]
) -> Any:
    """A primary key that must exist, or null (DRF reads "" as null in relational fields)."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        errors[key] = [f"Incorrect type. Expected pk value, received {type(value).__name__}."]
        return MISSING
    if lookup(value) is None:
        errors[key] = [NO_OBJECT]
        return MISSING
    return value


def _parse_templates(data: dict[str, Any], errors: dict[str, Any]) -> Any:
    if "templates" not in data:
        return MISSING
    value = data["templates"]
    if value is None:
        errors["templates"] = [NULL]
        return MISSING
    if not isinstance(value, dict):
        kind = type(value).__name__
        errors["templates"] = [f'Expected a dictionary of items but got type "{kind}".']
        return MISSING
    return value


def _as_bool(value: Any) -> bool | None:
    try:
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
    except TypeError:  # unhashable
        pass
    return None


def _parse_route(data: dict[str, Any], errors: dict[str, Any], flavour: Flavour) -> Any:
    """The shape of `default_route`; existence checks come later."""
    if "default_route" not in data:
        return MISSING
    value = data["default_route"]
    if value is None:
        errors["default_route"] = [NULL]
        return MISSING
    if not isinstance(value, dict):
        kind = type(value).__name__
        errors["default_route"] = {
            "non_field_errors": [f"Invalid data. Expected a dictionary, but got {kind}."]
        }
        return MISSING
    changes: dict[str, Any] = {}
    nested: dict[str, Any] = {}
    if "escalation_chain_id" in value:
        changes["escalation_chain_id"] = value["escalation_chain_id"]
    backends: dict[str, Any] = {}
    for backend, key in flavour.route_backends.items():
        if backend not in value:
            continue
        block = value[backend]
        if block is None:
            backends[backend] = None
            continue
        if not isinstance(block, dict):
            kind = type(block).__name__
            nested[backend] = {
                "non_field_errors": [f"Invalid data. Expected a dictionary, but got {kind}."]
            }
            continue
        parsed: dict[str, Any] = {}
        block_errors: dict[str, Any] = {}
        if key in block:
            target = block[key]
            if target is not None and not isinstance(target, str):
                block_errors[key] = [NOT_STRING]
            else:
                parsed[key] = target
        if "enabled" in block:
            # null resets to the default, like null elsewhere in an update.
            enabled = None if block["enabled"] is None else _as_bool(block["enabled"])
            if enabled is None and block["enabled"] is not None:
                block_errors["enabled"] = ["Must be a valid boolean."]
            else:
                parsed["enabled"] = enabled
        if block_errors:
            nested[backend] = block_errors
        else:
            backends[backend] = parsed
    if nested:
        errors["default_route"] = nested
        return MISSING
    changes["backends"] = backends
    return changes


# Merging


def _merge_templates(
    current: dict[str, Any], changes: dict[str, Any], flavour: Flavour
) -> dict[str, Any]:
    out = copy.deepcopy(current)
    for key, value in changes.items():
        if key in TEMPLATE_FIELDS:
            if value is None:
                out.pop(key, None)
            elif not isinstance(value, str) or compile_error(value) is not None:
                raise detail(f"Invalid {key} template data")
            else:
                out[key] = value
        elif key in flavour.template_groups:
            if value is None:
                out.pop(key, None)
                continue
            if not isinstance(value, dict):
                raise detail(f"Invalid {key} template data")
            fields = flavour.template_groups[key]
            group = dict(out.get(key) or {})
            for field, source in value.items():
                if field not in fields:
                    # The server drops this one without complaint.
                    if key == "mobile_app" and field == "image_url":
                        continue
                    raise detail("Invalid template data")
                if source is None:
                    group.pop(field, None)
                elif not isinstance(source, str) or compile_error(source) is not None:
                    raise detail(f"invalid {key} {field} template")
                else:
                    group[field] = source
            if group:
                out[key] = group
            else:
                out.pop(key, None)
        # Unknown top-level keys (and other flavours' groups) are silently ignored.
    return out


def _merge_route(current: dict[str, Any], changes: dict[str, Any], ctx: Context) -> dict[str, Any]:
    out = copy.deepcopy(current)
    if "escalation_chain_id" in changes:
        errors: dict[str, Any] = {}
        chain = _parse_related(
            changes["escalation_chain_id"], "escalation_chain_id", errors, ctx.store.get_chain
        )
        if errors:
            raise ApiError(400, errors)
        out["escalation_chain_id"] = chain
    backends = out.setdefault("backends", {})
    for backend, block in changes.get("backends", {}).items():
        if block is None:
            backends.pop(backend, None)
            continue
        if backend == "slack" and block.get("channel_id") and not ctx.slack_connected:
            raise detail(SLACK_NOT_CONNECTED)
        merged = {**backends.get(backend, {}), **block}
        if merged.get("enabled") is None:
            merged.pop("enabled", None)
        backends[backend] = merged
    return out


# Operations


def _invent_name(itype: str, team_id: str | None, store: Store) -> str:
    base = f"{DISPLAY_NAMES.get(itype, itype.replace('_', ' ').title())} :blush:"
    name, n = base, 1
    while store.name_taken(team_id, name):
        n += 1
        name = f"{base} {n}"
    return name


def get(integration_id: str, ctx: Context) -> IntegrationRecord:
    rec = ctx.store.get_integration(integration_id)
    if rec is None:
        raise not_found()
    return rec


@dataclass
class _Writable:
    """The writable fields of a request body, each MISSING when absent."""

    name: Any
    description: Any
    team_id: Any
    templates: Any
    route: Any


def _parse_writable(data: dict[str, Any], errors: dict[str, Any], ctx: Context) -> _Writable:
    return _Writable(
        name=_parse_string(data, "name", errors, allow_null=False, allow_blank=False),
        description=_parse_string(
            data,
            "description_short",
            errors,
            allow_null=True,
            allow_blank=True,
            max_length=DESCRIPTION_MAX_LENGTH,
        ),
        team_id=(
            _parse_related(data["team_id"], "team_id", errors, ctx.store.get_team)
            if "team_id" in data
            else MISSING
        ),
        templates=_parse_templates(data, errors),
        route=_parse_route(data, errors, ctx.flavour),
    )


def create(body: Any, ctx: Context) -> IntegrationRecord:
    data = _expect_object(body)
    errors: dict[str, Any] = {}
    itype = _parse_type(data, errors, ctx.flavour)
    fields = _parse_writable(data, errors, ctx)
    if errors:
        raise ApiError(400, errors)
    team_id = None if fields.team_id is MISSING else fields.team_id

    rec = IntegrationRecord(
        id=new_id("C"),
        type=itype,
        name="",
        team_id=team_id,
        created_at=time.time(),
        description_short=None if fields.description is MISSING else fields.description,
        link_token=None if itype in LINKLESS_TYPES else _link_token(),
        inbound_email=_inbound_email() if itype == "inbound_email" else None,
        templates=_merge_templates(
            {}, {} if fields.templates is MISSING else fields.templates, ctx.flavour
        ),
        route=_merge_route(
            {"id": new_id("R"), "escalation_chain_id": None, "backends": {}},
            {} if fields.route is MISSING else fields.route,
            ctx,
        ),
        hidden=itype in HIDDEN_TYPES,
    )
    if fields.name is MISSING:
        rec.name = _invent_name(itype, team_id, ctx.store)
    elif ctx.store.name_taken(team_id, fields.name):
        raise detail(NAME_TAKEN)
    else:
        rec.name = fields.name
    if itype == "grafana_alerting" and not ctx.grafana_reachable:
        raise ApiError(400, [GRAFANA_UNREACHABLE])
    while ctx.store.id_taken(rec.id):
        rec.id = new_id("C")
    ctx.store.insert_integration(rec)
    return rec


def update(rec: IntegrationRecord, body: Any, ctx: Context) -> IntegrationRecord:
    data = _expect_object(body)
    errors: dict[str, Any] = {}
    fields = _parse_writable(data, errors, ctx)
    if errors:
        raise ApiError(400, errors)

    new = replace(
        rec,
        name=rec.name if fields.name is MISSING else fields.name,
        team_id=rec.team_id if fields.team_id is MISSING else fields.team_id,
        description_short=(
            rec.description_short if fields.description is MISSING else fields.description
        ),
        templates=rec.templates
        if fields.templates is MISSING
        else _merge_templates(rec.templates, fields.templates, ctx.flavour),
        route=rec.route if fields.route is MISSING else _merge_route(rec.route, fields.route, ctx),
    )
    if (new.name, new.team_id) != (rec.name, rec.team_id) and ctx.store.name_taken(
        new.team_id, new.name, exclude_id=rec.id
    ):
        raise detail(NAME_TAKEN)
    ctx.store.update_integration(new)
    return new


def delete(rec: IntegrationRecord, ctx: Context) -> None:
    ctx.store.delete_integration(rec.id)
