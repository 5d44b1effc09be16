"""The emulator's tables of what the server accepts against the client's schema.

Each side keeps its own (the emulator stands in for the server, so it must not take
the client's word for anything): here they are held against each other, and every
place where they differ is listed, with the reason, in DIFFERENCES.
"""

from __future__ import annotations

from typing import Any

import pytest

from pulumi_oncall import _config as config
from pulumi_oncall import _model as model
from pulumi_oncall import _schema as schema
from pulumi_oncall.emulator import constants, tables
from pulumi_oncall.emulator.flavours import CLOUD, OSS


def _as_set(value: Any) -> Any:
    return frozenset(value) if isinstance(value, (tuple, frozenset, set)) else value


# name: (the emulator's table, the client's table)
PAIRS: dict[str, tuple[Any, Any]] = {
    "API_FIELDS": (tables.INTEGRATION_WRITABLE_FIELDS, schema.API_FIELDS),
    "OSS_TYPES": (tables.OSS_TYPES, schema.OSS_TYPES),
    "CLOUD_TYPES": (tables.CLOUD_TYPES, schema.CLOUD_TYPES),
    "REFUSED_TYPES": (tables.REFUSED_TYPES, schema.REFUSED_TYPES),
    "TEMPLATE_FIELDS": (tables.TEMPLATE_FIELDS, schema.TEMPLATE_FIELDS),
    "TEMPLATE_GROUPS": (tables.TEMPLATE_GROUPS, schema.TEMPLATE_GROUPS),
    "ROUTE_BACKENDS": (tables.ROUTE_BACKENDS, schema.ROUTE_BACKENDS),
    "CLOUD_ONLY_TEMPLATE_GROUPS": (
        tables.CLOUD_ONLY_TEMPLATE_GROUPS,
        schema.CLOUD_ONLY_TEMPLATE_GROUPS,
    ),
    "CLOUD_ONLY_ROUTE_BACKENDS": (
        tables.CLOUD_ONLY_ROUTE_BACKENDS,
        schema.CLOUD_ONLY_ROUTE_BACKENDS,
    ),
    "NAME_MAX_LENGTH": (tables.NAME_MAX_LENGTH, schema.NAME_MAX_LENGTH),
    "DESCRIPTION_MAX_LENGTH": (tables.DESCRIPTION_MAX_LENGTH, schema.DESCRIPTION_MAX_LENGTH),
    # Tables of the client outside the schema module.
    "SERVICE_ACCOUNT_PREFIX": (constants.SERVICE_ACCOUNT_PREFIX, config.SERVICE_ACCOUNT_PREFIX),
    "ENABLED_BY_DEFAULT": (
        tables.ENABLED_BY_DEFAULT,
        frozenset(b for b, on in model.ROUTE_ENABLED_DEFAULTS.items() if on),
    ),
    "SERVER_ADDED_DYNAMIC_LABELS": (
        frozenset({tables.SERVICE_LABEL}),
        schema.SERVER_ADDED_DYNAMIC_LABELS,
    ),
}

# name: ({key: (the emulator's entry, the client's entry)}, the reason), where None is
# "absent". Anything else that differs fails the test.
DIFFERENCES: dict[str, tuple[dict[str, tuple[Any, Any]], str]] = {
    "REFUSED_TYPES": (
        {"maintenance": (None, schema.REFUSED_TYPES["maintenance"])},
        "the server accepts `maintenance` (201) and then hides the integration (404 on "
        "every later call): the emulator has it among HIDDEN_TYPES, and the client refuses "
        "to create it, since it could never manage it afterwards",
    ),
}


def _differences(ours: Any, theirs: Any) -> dict[str, tuple[Any, Any]]:
    """The differing entries of two mappings; of anything else, the whole value."""
    if isinstance(ours, dict) and isinstance(theirs, dict):
        return {
            key: (ours.get(key), theirs.get(key))
            for key in sorted(set(ours) | set(theirs))
            if ours.get(key) != theirs.get(key)
        }
    if _as_set(ours) != _as_set(theirs):
        return {"": (ours, theirs)}
    return {}


@pytest.mark.parametrize("name", sorted(PAIRS))
def test_the_emulator_and_the_client_agree_but_where_listed(name: str) -> None:
    ours, theirs = PAIRS[name]
    expected, _reason = DIFFERENCES.get(name, ({}, ""))
    assert _differences(ours, theirs) == expected, (
        f"{name}: the emulator and the client differ; fix one, or list the difference "
        "in DIFFERENCES with its reason"
    )


def test_every_listed_difference_is_of_a_known_table_and_has_a_reason() -> None:
    assert set(DIFFERENCES) <= set(PAIRS)
    for expected, reason in DIFFERENCES.values():
        assert expected and reason


def test_orders_agree_where_the_server_shows_them() -> None:
    # The server answers templates and route backends in this order; so does the emulator.
    assert list(tables.TEMPLATE_GROUPS) == list(schema.TEMPLATE_GROUPS)
    assert list(tables.ROUTE_BACKENDS) == list(schema.ROUTE_BACKENDS)
    assert tables.TEMPLATE_FIELDS == schema.TEMPLATE_FIELDS


def test_the_client_manages_nothing_the_server_hides_or_keeps() -> None:
    # What the client cannot manage is what the server refuses to delete or hides.
    assert set(schema.UNMANAGEABLE_TYPES) <= set(tables.REFUSED_TYPES) | tables.HIDDEN_TYPES
    assert not set(schema.KNOWN_TYPES) & (set(tables.REFUSED_TYPES) | tables.HIDDEN_TYPES)


def test_flavours_are_built_from_the_emulators_tables() -> None:
    assert OSS.types == frozenset(tables.OSS_TYPES) | tables.HIDDEN_TYPES
    assert CLOUD.types == OSS.types | frozenset(tables.CLOUD_TYPES)
    assert set(CLOUD.template_groups) - set(OSS.template_groups) == set(
        tables.CLOUD_ONLY_TEMPLATE_GROUPS
    )
    assert set(CLOUD.route_backends) - set(OSS.route_backends) == set(
        tables.CLOUD_ONLY_ROUTE_BACKENDS
    )
    # A name can be invented for every type a create accepts.
    assert CLOUD.types <= set(tables.DISPLAY_NAMES)
