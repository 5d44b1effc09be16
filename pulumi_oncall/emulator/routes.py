"""The route rules (OnCall's channel filters): validation, positions, rendering.

Follows the public API's ChannelFilterSerializer / ChannelFilterUpdateSerializer of
OnCall 1.16.9 (apps/public_api/serializers/routes.py) and the ordering of
common/ordered_model. Fields are read in the serializer's order: a field's `detail`
refusal (an unknown route type, Slack not connected) ends the request at once, other
field errors are collected and answered together. Callers hold
`store.transaction()` around create/update/delete.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from pulumi_oncall._templating import compile_error

from .drf import (
    BLANK,
    MISSING,
    NO_OBJECT,
    NOT_BOOLEAN,
    NOT_INTEGER,
    NULL,
    REQUIRED,
    as_bool,
    as_int,
    char_field,
    expect_object,
    kind,
    not_a_dict,
)
from .errors import ApiError, ServerCrash, detail, not_found
from .flavours import Flavour
from .integrations import SLACK_NOT_CONNECTED, Context, new_id
from .store import RouteRecord, Store
from .tables import (
    DEFAULT_ROUTING_TYPE,
    ENABLED_BY_DEFAULT,
    POSITION_MAX,
    ROUTE_COLUMN_BACKENDS,
    ROUTING_REGEX_MAX_LENGTH,
    ROUTING_TYPES,
)

INVALID_ROUTE_TYPE = "Invalid route type"
WRONG_EXPRESSION_TYPE = "Expression type is incorrect"
BAD_JINJA = "Jinja template is incorrect"
BAD_REGEX = "Regular expression is incorrect"
TOO_LONG = "Expression is too long. Maximum length: {} characters, current length: {}"
BAD_POSITION = "Invalid value for position field"
UNDELETABLE_DEFAULT = "Unable to delete default filter"
NO_TELEGRAM_CHANNEL = "Telegram channel does not exist"
INVALID_SLACK_CHANNEL = "Invalid Slack channel"
# The public API refuses this route type although the model has it.
REFUSED_ROUTING_TYPE = "labels"


def render(route: RouteRecord, flavour: Flavour) -> dict[str, Any]:
    out: dict[str, Any] = {
        "position": route.position,
        "id": route.id,
        "integration_id": route.integration_id,
        "escalation_chain_id": route.escalation_chain_id,
        "routing_type": route.routing_type,
        "routing_regex": route.routing_regex,
        "is_the_last_route": route.is_default,
    }
    for backend, key in flavour.route_backends.items():
        values = route.backends.get(backend) or {}
        out[backend] = {
            key: values.get(key),
            "enabled": bool(values.get("enabled", backend in ENABLED_BY_DEFAULT)),
        }
    return out


def get(route_id: str, store: Store) -> RouteRecord:
    route = store.get_route(route_id)
    if route is None:
        raise not_found()
    return route


def find(
    store: Store, integration_id: str | None, routing_regex: str | None
) -> Sequence[RouteRecord]:
    """The list's filters: empty values filter nothing, as in OnCall's view."""
    return store.list_routes(integration_id or None, routing_regex or None)


# Reading the fields of a request


@dataclass
class _Fields:
    """The fields of a request body, each MISSING when absent or refused."""

    position: Any = MISSING
    manual_order: Any = MISSING
    integration_id: Any = MISSING
    escalation_chain_id: Any = MISSING
    routing_type: Any = MISSING
    routing_regex: Any = MISSING
    # Backend blocks as read: {"slack": {"channel_id": ..., "enabled": ...}, "email": {...}}
    backends: Any = MISSING


def _position(data: dict[str, Any], errors: dict[str, Any]) -> Any:
    if "position" not in data:
        return MISSING
    value = data["position"]
    if value is None:
        errors["position"] = [NULL]
        return MISSING
    number = as_int(value)
    if number is None:
        errors["position"] = [NOT_INTEGER]
        return MISSING
    return number


def _manual_order(data: dict[str, Any], errors: dict[str, Any]) -> Any:
    if "manual_order" not in data:
        return MISSING
    value = data["manual_order"]
    flag = None if value is None else as_bool(value)
    if flag is None:
        errors["manual_order"] = [NULL if value is None else NOT_BOOLEAN]
        return MISSING
    return flag


def _related(
    data: dict[str, Any],
    key: str,
    errors: dict[str, Any],
    exists: Any,
    *,
    required: bool,
    allow_null: bool,
) -> Any:
    """A primary key of the organisation ("" reads as null, as in relational fields)."""
    if key not in data:
        if required:
            errors[key] = [REQUIRED]
        return MISSING
    value = data[key]
    if value is None or value == "":
        if allow_null:
            return None
        errors[key] = [NULL]
        return MISSING
    if not isinstance(value, str) or exists(value) is None:
        errors[key] = [NO_OBJECT]
        return MISSING
    return value


def _routing_type(data: dict[str, Any], errors: dict[str, Any]) -> Any:
    if "routing_type" not in data:
        return MISSING
    value = data["routing_type"]
    if value is None:
        errors["routing_type"] = [NULL]
        return MISSING
    if value == "" or str(value).strip() == "":
        errors["routing_type"] = [BLANK]
        return MISSING
    if value not in ROUTING_TYPES:
        raise detail(INVALID_ROUTE_TYPE)
    return value


def _routing_regex(data: dict[str, Any], errors: dict[str, Any], *, required: bool) -> Any:
    if "routing_regex" not in data:
        if required:
            errors["routing_regex"] = [REQUIRED]
        return MISSING
    value, messages = char_field(data["routing_regex"], allow_null=False, allow_blank=False)
    if messages:
        errors["routing_regex"] = messages
    return value


def _slack(value: Any, slack_connected: bool) -> tuple[Any, Any]:
    """Slack's nested serializer: (block, None) or (MISSING, its errors)."""
    if value is None:
        return MISSING, [NULL]
    if not isinstance(value, dict):
        return MISSING, not_a_dict(value)
    block: dict[str, Any] = {}
    errors: dict[str, Any] = {}
    if "channel_id" in value:
        channel = value["channel_id"]
        if channel is None or channel == "":
            block["channel_id"] = None
        elif not slack_connected:
            # The channel field looks up the organisation's Slack workspace first.
            raise detail(SLACK_NOT_CONNECTED)
        elif not isinstance(channel, str):
            errors["channel_id"] = [INVALID_SLACK_CHANNEL]
        else:
            block["channel_id"] = channel
    if "enabled" in value:
        enabled = value["enabled"]
        flag = None if enabled is None else as_bool(enabled)
        if flag is None and enabled is not None:
            errors["enabled"] = [NOT_BOOLEAN]
        else:
            # null is stored as null, which OnCall shows as false.
            block["enabled"] = bool(flag)
    return (MISSING, errors) if errors else (block, None)


def _dict_field(value: Any) -> tuple[Any, Any]:
    """A DictField of whatever the block holds: (block, None) or (MISSING, errors)."""
    if value is None:
        return MISSING, [NULL]
    if not isinstance(value, dict):
        return MISSING, [f'Expected a dictionary of items but got type "{kind(value)}".']
    return value, None


def _backends(
    data: dict[str, Any], errors: dict[str, Any], flavour: Flavour, slack_connected: bool
) -> dict[str, Any]:
    blocks: dict[str, Any] = {}
    # Slack and Telegram first, then the messaging backends, as the serializer has them.
    order = [b for b in flavour.route_backends if b in ROUTE_COLUMN_BACKENDS]
    order += [b for b in flavour.route_backends if b not in ROUTE_COLUMN_BACKENDS]
    for backend in order:
        if backend not in data:
            continue  # and blocks of backends the server lacks are ignored
        if backend == "slack":
            block, block_errors = _slack(data[backend], slack_connected)
        else:
            block, block_errors = _dict_field(data[backend])
        if block_errors is not None:
            errors[backend] = block_errors
        else:
            blocks[backend] = block
    return blocks


def _read(data: dict[str, Any], ctx: Context, *, creating: bool) -> _Fields:
    errors: dict[str, Any] = {}
    fields = _Fields()
    fields.position = _position(data, errors)
    fields.manual_order = _manual_order(data, errors)
    if creating:
        fields.integration_id = _related(
            data,
            "integration_id",
            errors,
            ctx.store.get_integration,
            required=True,
            allow_null=False,
        )
    # On create the key is required and null allowed; on update the reverse.
    fields.escalation_chain_id = _related(
        data,
        "escalation_chain_id",
        errors,
        ctx.store.get_chain,
        required=creating,
        allow_null=creating,
    )
    fields.routing_type = _routing_type(data, errors)
    fields.routing_regex = _routing_regex(data, errors, required=creating)
    fields.backends = _backends(data, errors, ctx.flavour, ctx.slack_connected)
    if errors:
        raise ApiError(400, errors)
    _validate(fields)
    return fields


def _regex_compiles(source: str) -> bool:
    try:
        re.compile(source)
    except re.error:
        return False
    return True


def _validate(fields: _Fields) -> None:
    """The serializer's validate(): the expression against its type."""
    term = None if fields.routing_regex is MISSING else fields.routing_regex
    rtype = None if fields.routing_type is MISSING else fields.routing_type
    if term is not None and len(term) > ROUTING_REGEX_MAX_LENGTH:
        raise _non_field(TOO_LONG.format(ROUTING_REGEX_MAX_LENGTH, len(term)))
    if rtype == "jinja2":
        if term is None:
            # OnCall hands the template check a None and crashes.
            raise ServerCrash()
        if compile_error(term) is not None:
            raise _non_field(BAD_JINJA)
    elif rtype in (DEFAULT_ROUTING_TYPE, None):
        # Without routing_type, even a jinja2 route's expression is checked as a regex.
        if term is not None and not _regex_compiles(term):
            raise _non_field(BAD_REGEX)
    else:
        raise _non_field(WRONG_EXPRESSION_TYPE)


def _non_field(message: str) -> ApiError:
    return ApiError(400, {"non_field_errors": [message]})


def _backend_changes(blocks: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
    """The stored backends once `blocks` are applied (the serializer's
    _correct_validated_data and _update_notification_backends).

    Slack and Telegram are columns: each key given changes that key. The messaging
    backends are one JSON column: the blocks given, each merged into its stored value,
    replace it whole, so that a block of one resets the others (as OnCall 1.16.9 does).
    """
    out = {b: dict(v) for b, v in current.items() if b in ROUTE_COLUMN_BACKENDS}
    messaging = {b: dict(v) for b, v in current.items() if b not in ROUTE_COLUMN_BACKENDS}
    changed_messaging: dict[str, Any] = {}
    for backend, block in blocks.items():
        if not block:
            continue  # an empty block changes nothing
        if backend == "slack":
            out["slack"] = {**out.get("slack", {}), **block}
        elif backend == "telegram":
            telegram = dict(out.get("telegram", {}))
            if "id" in block:
                if block["id"] is not None:
                    # The emulator's organisation has no Telegram channels.
                    raise detail(NO_TELEGRAM_CHANNEL)
                telegram["id"] = None
            if "enabled" in block:
                telegram["enabled"] = bool(block["enabled"])
            out["telegram"] = telegram
        else:
            change: dict[str, Any] = {}
            if "id" in block:
                change["id"] = block["id"]
            if "enabled" in block:
                change["enabled"] = bool(block["enabled"])
            changed_messaging[backend] = {**messaging.get(backend, {}), **change}
    out.update(changed_messaging or messaging)
    return out


# Positions (common/ordered_model/ordered_model.py)


def _move(group: list[RouteRecord], route: RouteRecord, order: int) -> None:
    """OrderedModel.to(): take `order`, shifting the routes in between by one."""
    old = route.position
    if old == order:
        return
    for other in group:
        if other.id == route.id:
            continue
        if old < order and old < other.position <= order:
            other.position -= 1
        elif order < old and order <= other.position < old:
            other.position += 1
    route.position = order


def _swap(group: list[RouteRecord], route: RouteRecord, order: int) -> None:
    """OrderedModel.swap(): trade places with the route at `order`, if any."""
    holder = next((r for r in group if r.position == order and r.id != route.id), None)
    if holder is not None:
        holder.position = route.position
    route.position = order


def _reorder(
    store: Store, route: RouteRecord, order: int, manual: bool, *, created: bool
) -> RouteRecord:
    """OrderedModelSerializer._adjust_order; the route as moved, the others written."""
    group = store.route_group(route.integration_id, route.is_default)
    me = next(r for r in group if r.id == route.id)
    before = {r.id: r.position for r in group}
    if order == -1 and not manual:
        if created:
            return route  # already at the end
        order = max(before.values())
    if order < 0 or order > POSITION_MAX:
        raise detail(BAD_POSITION)
    (_swap if manual else _move)(group, me, order)
    for other in group:
        if other.id != me.id and other.position != before[other.id]:
            store.update_route(other)
    return replace(route, position=me.position)


# Operations


def _fresh_id(store: Store) -> str:
    route_id = new_id("R")
    while store.route_id_taken(route_id):
        route_id = new_id("R")
    return route_id


def create(body: Any, ctx: Context) -> tuple[RouteRecord, ApiError | None]:
    """The new route, and the error to answer although it was created, if any.

    OnCall creates the route before it checks the position, in a request that is not
    atomic: a position out of range is refused, and the route stays, appended.
    """
    data = expect_object(body)
    fields = _read(data, ctx, creating=True)
    backends = _backend_changes(fields.backends, {})
    group = ctx.store.route_group(fields.integration_id, False)
    route = RouteRecord(
        id=_fresh_id(ctx.store),
        integration_id=fields.integration_id,
        is_default=False,
        position=max((r.position for r in group), default=-1) + 1,
        routing_type=(
            DEFAULT_ROUTING_TYPE if fields.routing_type is MISSING else fields.routing_type
        ),
        routing_regex=fields.routing_regex,
        escalation_chain_id=fields.escalation_chain_id,
        backends=backends,
    )
    ctx.store.insert_route(route)
    if fields.position is MISSING:
        return route, None
    manual = False if fields.manual_order is MISSING else fields.manual_order
    try:
        route = _reorder(ctx.store, route, fields.position, manual, created=True)
    except ApiError as exc:
        return route, exc
    ctx.store.update_route(route)
    return route, None


def update(route: RouteRecord, body: Any, ctx: Context) -> RouteRecord:
    data = expect_object(body)
    fields = _read(data, ctx, creating=False)
    new = replace(route, backends=_backend_changes(fields.backends, route.backends))
    if fields.position is not MISSING:
        manual = False if fields.manual_order is MISSING else fields.manual_order
        new = _reorder(ctx.store, new, fields.position, manual, created=False)
    if fields.escalation_chain_id is not MISSING:
        new.escalation_chain_id = fields.escalation_chain_id
    if fields.routing_type is not MISSING:
        new.routing_type = fields.routing_type
    if fields.routing_regex is not MISSING:
        new.routing_regex = fields.routing_regex
    ctx.store.update_route(new)
    return new


def delete(route: RouteRecord, ctx: Context) -> None:
    if route.is_default:
        raise detail(UNDELETABLE_DEFAULT)
    ctx.store.delete_route(route.id)
