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

from pulumi_oncall._templating import compile_error

from .drf import (
    BLANK,
    MAX_LENGTH,
    MISSING,
    NO_OBJECT,
    NOT_BOOLEAN,
    NOT_STRING,
    NULL,
    REQUIRED,
    as_bool,
    char_field,
    char_field_errors,
    expect_object,
    not_a_dict,
)
from .errors import ApiError, detail, not_found
from .flavours import Flavour
from .store import IntegrationRecord, Store
from .tables import (
    DESCRIPTION_MAX_LENGTH,
    DISPLAY_NAMES,
    ENABLED_BY_DEFAULT,
    HIDDEN_TYPES,
    LEGACY_PREFIX,
    LINKLESS_TYPES,
    NAME_MAX_LENGTH,
    REFUSED_TYPES,
    SERVICE_LABEL,
    SERVICE_LABEL_TEMPLATE,
    SERVICE_LABEL_TYPE,
    TEMPLATE_FIELDS,
)

NAME_TAKEN = "An integration with this name already exists for this team"
DIRECT_PAGING_TAKEN = "Direct paging integration already exists for this team"
# Assumed text, in the words of the create refusal: only the refusal itself is known.
DIRECT_PAGING_UNDELETABLE = "Direct paging integrations can't be deleted"
GRAFANA_UNREACHABLE = "Failed to create the integration because the Grafana instance is unreachable"
SLACK_NOT_CONNECTED = "Slack isn't connected to this workspace"

_ID_ALPHABET = string.ascii_uppercase + string.digits


@dataclass
class Context:
    store: Store
    flavour: Flavour
    public_url: str
    slack_connected: bool
    grafana_reachable: bool
    # When Cloud adds the service_name label to a new grafana_alerting integration.
    service_label: str = "off"
    service_label_delay: float = 0.0


def new_id(prefix: str) -> str:
    return prefix + "".join(secrets.choice(_ID_ALPHABET) for _ in range(12))


def _link_token() -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(25))


def _inbound_email() -> str:
    alphabet = string.ascii_lowercase + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(16)) + "@inbound.oncall.local"


# Rendering


def public_type(itype: str) -> str:
    """The type as the API shows it: legacy types lose their prefix."""
    return itype.removeprefix(LEGACY_PREFIX)


def render(rec: IntegrationRecord, ctx: Context) -> dict[str, Any]:
    itype = public_type(rec.type)
    link = f"{ctx.public_url}/integrations/v1/{itype}/{rec.link_token}/" if rec.link_token else None
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
        "type": itype,
        "templates": _render_templates(rec.templates, ctx.flavour),
        "heartbeat": {"link": f"{link}heartbeat/"} if link else None,
        "default_route": _render_route(rec.route, ctx.flavour),
    }
    if ctx.flavour.labels:
        obj["labels"] = _display_order(rec.labels)
        obj["dynamic_labels"] = _display_order(rec.dynamic_labels)
    return obj


def _display_order(labels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The labels in an order of the emulator's own, as the server guarantees none.

    Sorted by the random key id, then rotated until the order differs from the one
    written (and, from three labels on, from the order by name), so that a client
    that compares lists in order fails here rather than once in a while in production.
    """
    written = [label["key"]["name"] for label in labels]
    by_name = sorted(written)
    base = sorted(labels, key=lambda label: str(label["key"]["id"]))
    rotations = [base[i:] + base[:i] for i in range(len(base))]
    for avoided in ((written, by_name), (written,)):
        for order in rotations:
            names = [label["key"]["name"] for label in order]
            if all(names != other for other in avoided):
                return order
    return base


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
    if isinstance(value, str) and value in REFUSED_TYPES:
        raise detail(REFUSED_TYPES[value])
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
    value, messages = char_field(
        data[key], allow_null=allow_null, allow_blank=allow_blank, max_length=max_length
    )
    if messages:
        errors[key] = messages
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


def _parse_route(data: dict[str, Any], errors: dict[str, Any], flavour: Flavour) -> Any:
    """The shape of `default_route`; existence checks come later.

    Not the routes API's parsing: the integration serializer resets on null and does
    not look up the Slack workspace.
    """
    if "default_route" not in data:
        return MISSING
    value = data["default_route"]
    if value is None:
        errors["default_route"] = [NULL]
        return MISSING
    if not isinstance(value, dict):
        errors["default_route"] = not_a_dict(value)
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
            nested[backend] = not_a_dict(block)
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
            enabled = None if block["enabled"] is None else as_bool(block["enabled"])
            if enabled is None and block["enabled"] is not None:
                block_errors["enabled"] = [NOT_BOOLEAN]
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


def _parse_label_name(part: Any, *, trim: bool) -> tuple[Any, Any]:
    """`{"name": ...}` of a label's key or value: (name, None) or (MISSING, errors)."""
    if part is None:
        return MISSING, [NULL]
    if not isinstance(part, dict):
        return MISSING, not_a_dict(part)
    if "name" not in part:
        return MISSING, {"name": [REQUIRED]}
    value = part["name"]
    if value is None:
        return MISSING, {"name": [NULL]}
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        return MISSING, {"name": [NOT_STRING]}
    if not value.strip():
        return MISSING, {"name": [BLANK]}
    value = value.strip() if trim else value
    messages = char_field_errors(value)
    if messages:
        return MISSING, {"name": messages}
    return value, None


def _parse_labels(data: dict[str, Any], key: str, errors: dict[str, Any], flavour: Flavour) -> Any:
    """`labels` or `dynamic_labels`: a list of (key name, value name), or MISSING.

    Dynamic values are Jinja2 templates, kept as given: the server is not known to
    check them. The open-source server has no labels in its public API and drops them.
    """
    if not flavour.labels or key not in data:
        return MISSING
    value = data[key]
    if value is None:
        errors[key] = [NULL]
        return MISSING
    if not isinstance(value, list):
        errors[key] = [f'Expected a list of items but got type "{type(value).__name__}".']
        return MISSING
    pairs: list[tuple[str, str]] = []
    item_errors: list[dict[str, Any]] = []
    for item in value:
        if not isinstance(item, dict):
            item_errors.append(not_a_dict(item))
            continue
        found: dict[str, Any] = {}
        names: list[str] = []
        for part in ("key", "value"):
            if part not in item:
                found[part] = [REQUIRED]
                continue
            name, part_errors = _parse_label_name(
                item[part], trim=not (key == "dynamic_labels" and part == "value")
            )
            if part_errors is not None:
                found[part] = part_errors
            else:
                names.append(name)
        item_errors.append(found)
        if not found:
            pairs.append((names[0], names[1]))
    if any(item_errors):
        # DRF's list of per-item errors: {} for the items that were fine.
        errors[key] = item_errors
        return MISSING
    names = [k for k, _ in pairs]
    repeated = sorted({k for k in names if names.count(k) > 1})
    if repeated:
        # Not observed; a set of labels has one value per key in the UI and in Terraform.
        errors[key] = [f'Label key "{k}" is given more than once.' for k in repeated]
        return MISSING
    return pairs


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


def _with_ids(pairs: list[tuple[str, str]], store: Store, *, dynamic: bool) -> list[dict[str, Any]]:
    """Labels as stored and shown, with the organisation's ids of their keys and values.

    A dynamic label's value is a template, not a value of the key: its id is null.
    """
    out: list[dict[str, Any]] = []
    for key, value in pairs:
        key_id = store.label_key_id(key)
        value_id = None if dynamic else store.label_value_id(key_id, value)
        out.append({"key": {"id": key_id, "name": key}, "value": {"id": value_id, "name": value}})
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
    labels: Any
    dynamic_labels: Any


def _parse_writable(data: dict[str, Any], errors: dict[str, Any], ctx: Context) -> _Writable:
    # One parser per entry of INTEGRATION_WRITABLE_FIELDS but `type`, which never changes.
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
        labels=_parse_labels(data, "labels", errors, ctx.flavour),
        dynamic_labels=_parse_labels(data, "dynamic_labels", errors, ctx.flavour),
    )


def _new_record(
    integration_id: str, itype: str, name: str, fields: _Writable, ctx: Context
) -> IntegrationRecord:
    """A record from parsed fields; raises what the templates and route refuse."""
    return IntegrationRecord(
        id=integration_id,
        type=itype,
        name=name,
        team_id=None if fields.team_id is MISSING else fields.team_id,
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
        labels=[]
        if fields.labels is MISSING
        else _with_ids(fields.labels, ctx.store, dynamic=False),
        dynamic_labels=[]
        if fields.dynamic_labels is MISSING
        else _with_ids(fields.dynamic_labels, ctx.store, dynamic=True),
        hidden=itype in HIDDEN_TYPES,
    )


def _fresh_id(store: Store) -> str:
    integration_id = new_id("C")
    while store.id_taken(integration_id):
        integration_id = new_id("C")
    return integration_id


def create(body: Any, ctx: Context) -> IntegrationRecord:
    data = expect_object(body)
    errors: dict[str, Any] = {}
    itype = _parse_type(data, errors, ctx.flavour)
    fields = _parse_writable(data, errors, ctx)
    if errors:
        raise ApiError(400, errors)

    rec = _new_record(_fresh_id(ctx.store), itype, "", fields, ctx)
    if fields.name is MISSING:
        rec.name = _invent_name(itype, rec.team_id, ctx.store)
    elif ctx.store.name_taken(rec.team_id, fields.name):
        raise detail(NAME_TAKEN)
    else:
        rec.name = fields.name
    if itype == "grafana_alerting" and not ctx.grafana_reachable:
        raise ApiError(400, [GRAFANA_UNREACHABLE])
    if itype == SERVICE_LABEL_TYPE and ctx.flavour.labels:
        if ctx.service_label == "now":
            _add_service_label(rec, ctx.store)
        elif ctx.service_label == "later":
            # Due once the delay has passed, the delay as it is then.
            ctx.store.add_pending_label(rec.id, time.time())
    ctx.store.insert_integration(rec)
    return rec


def update(rec: IntegrationRecord, body: Any, ctx: Context) -> IntegrationRecord:
    data = expect_object(body)
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
        # A list replaces the whole set; [] clears it.
        labels=rec.labels
        if fields.labels is MISSING
        else _with_ids(fields.labels, ctx.store, dynamic=False),
        dynamic_labels=rec.dynamic_labels
        if fields.dynamic_labels is MISSING
        else _with_ids(fields.dynamic_labels, ctx.store, dynamic=True),
    )
    if (new.name, new.team_id) != (rec.name, rec.team_id) and ctx.store.name_taken(
        new.team_id, new.name, exclude_id=rec.id
    ):
        raise detail(NAME_TAKEN)
    if (
        new.type == "direct_paging"
        and new.team_id != rec.team_id
        and ctx.store.direct_paging_taken(new.team_id, exclude_id=rec.id)
    ):
        raise detail(DIRECT_PAGING_TAKEN)
    ctx.store.update_integration(new)
    return new


def delete(rec: IntegrationRecord, ctx: Context) -> None:
    if rec.type == "direct_paging":
        raise detail(DIRECT_PAGING_UNDELETABLE)
    ctx.store.delete_integration(rec.id)


def seed(body: Any, ctx: Context, *, keep_existing: bool = False) -> IntegrationRecord | None:
    """An integration as if it already existed: any type, with no public-API refusal of it.

    With `keep_existing`, one whose id (or, without an id, team and name) is already
    taken is left alone and None returned, so that a seed can be applied again.
    """
    data = expect_object(body)
    errors: dict[str, Any] = {}
    itype = data.get("type", MISSING)
    if itype is MISSING:
        errors["type"] = [REQUIRED]
    elif itype is None:
        errors["type"] = [NULL]
    elif not isinstance(itype, str):
        errors["type"] = [NOT_STRING]
    elif not itype.strip():
        errors["type"] = [BLANK]
    given_id = data.get("id")
    if given_id is not None and (not isinstance(given_id, str) or not given_id.strip()):
        errors["id"] = ["Must be a non-empty string or null."]
    fields = _parse_writable(data, errors, ctx)
    if "name" not in data:
        errors["name"] = [REQUIRED]
    elif fields.name is not MISSING and len(fields.name) > NAME_MAX_LENGTH:
        errors["name"] = [MAX_LENGTH.format(NAME_MAX_LENGTH)]
    if errors:
        raise ApiError(400, errors)
    itype = itype.strip()
    team_id = None if fields.team_id is MISSING else fields.team_id

    if keep_existing and (
        ctx.store.id_taken(given_id)
        if given_id is not None
        else ctx.store.name_taken(team_id, fields.name)
    ):
        return None
    if given_id is not None and ctx.store.id_taken(given_id):
        raise detail(f"An integration with id {given_id} already exists")
    if ctx.store.name_taken(team_id, fields.name):
        raise detail(NAME_TAKEN)
    if itype == "direct_paging" and ctx.store.direct_paging_taken(team_id):
        raise detail(DIRECT_PAGING_TAKEN)
    rec = _new_record(given_id or _fresh_id(ctx.store), itype, fields.name, fields, ctx)
    ctx.store.insert_integration(rec)
    return rec


def _add_service_label(rec: IntegrationRecord, store: Store) -> bool:
    """Cloud's `service_name` dynamic label, put first, unless one of that key is declared.

    OnCall (`create_service_name_dynamic_label`) looks for the key among the
    alert-group labels, the public API's `dynamic_labels`: a static label of that key
    does not stop it. Only a create adds it; updates never do.
    """
    if any(label["key"]["name"] == SERVICE_LABEL for label in rec.dynamic_labels):
        return False
    [label] = _with_ids([(SERVICE_LABEL, SERVICE_LABEL_TEMPLATE)], store, dynamic=True)
    rec.dynamic_labels = [label, *rec.dynamic_labels]
    return True


def add_due_service_labels(ctx: Context, now: float) -> None:
    """Add the service_name labels whose time has come, as Cloud's background task does
    when the label key was not cached at the create: to the integration as it is by
    then, unless it was deleted or has such a label by then."""
    for integration_id in ctx.store.take_due_labels(now - ctx.service_label_delay):
        rec = ctx.store.get_integration(integration_id)
        if rec is not None and _add_service_label(rec, ctx.store):
            ctx.store.update_integration(rec)
