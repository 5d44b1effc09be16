"""What differs between an open-source OnCall engine and Grafana Cloud IRM."""

from __future__ import annotations

from dataclasses import dataclass

from .tables import (
    CLOUD_ONLY_ROUTE_BACKENDS,
    CLOUD_ONLY_TEMPLATE_GROUPS,
    CLOUD_TYPES,
    HIDDEN_TYPES,
    OSS_TYPES,
    ROUTE_BACKENDS,
    TEMPLATE_GROUPS,
)


@dataclass(frozen=True)
class Flavour:
    name: str
    template_groups: dict[str, tuple[str, ...]]
    route_backends: dict[str, str]
    types: frozenset[str]
    labels: bool


OSS = Flavour(
    name="oss",
    template_groups={
        g: f for g, f in TEMPLATE_GROUPS.items() if g not in CLOUD_ONLY_TEMPLATE_GROUPS
    },
    route_backends={b: k for b, k in ROUTE_BACKENDS.items() if b not in CLOUD_ONLY_ROUTE_BACKENDS},
    types=frozenset(OSS_TYPES) | HIDDEN_TYPES,
    labels=False,
)

CLOUD = Flavour(
    name="cloud",
    template_groups=dict(TEMPLATE_GROUPS),
    route_backends=dict(ROUTE_BACKENDS),
    types=frozenset(OSS_TYPES) | HIDDEN_TYPES | frozenset(CLOUD_TYPES),
    labels=True,
)

FLAVOURS: dict[str, Flavour] = {f.name: f for f in (OSS, CLOUD)}
