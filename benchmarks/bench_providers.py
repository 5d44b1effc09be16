"""Resources the floor benchmark deploys side by side with `Integration`.

Imported by the benchmark's program from its own directory, so that Pulumi pickles
the providers by reference (as it does `IntegrationProvider`) and the provider
process imports them again from there.
"""

from __future__ import annotations

import uuid
from typing import Any

import pulumi
from pulumi.dynamic import (
    CreateResult,
    DiffResult,
    ReadResult,
    Resource,
    ResourceProvider,
    UpdateResult,
)

from pulumi_oncall import Integration, schema
from pulumi_oncall.provider import PROVIDER_KEY, IntegrationProvider
from pulumi_oncall.resources import register_dynamic


class NoopProvider(ResourceProvider):
    """The floor: what the engine and the dynamic provider host cost, with no I/O."""

    serialize_as_secret_always = False

    def __getstate__(self) -> dict[str, Any]:
        return {}

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(uuid.uuid4().hex, props)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        def plain(props: dict[str, Any]) -> dict[str, Any]:
            return {k: v for k, v in props.items() if k != PROVIDER_KEY}

        return DiffResult(changes=plain(olds) != plain(news))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        return ReadResult(id_, props)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(news)

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        pass


class NoopIntegration(Resource, module="bench", name="Noop"):
    """The same properties and secret outputs as `Integration`, on `NoopProvider`."""

    def __init__(
        self, resource_name: str, *, opts: pulumi.ResourceOptions | None = None, **args: Any
    ) -> None:
        props: dict[str, Any] = {key: args.get(key) for key in schema.PROVIDER_FIELDS}
        props["name"] = args.get("name") or resource_name
        props.update(dict.fromkeys(schema.OUTPUT_DOCS))
        secrets = pulumi.ResourceOptions(
            additional_secret_outputs=["link", "inbound_email", "heartbeat_link"]
        )
        # As Integration does: the SDK's own path cannot register 1,000 of them.
        register_dynamic(
            self, NoopProvider, resource_name, props, pulumi.ResourceOptions.merge(secrets, opts)
        )


class OneGetProvider(IntegrationProvider):
    """Reads with one GET per integration, whatever the stack's size."""

    bulk_reads = False


class OneGetIntegration(Integration, module="oncall", name="Integration"):
    _provider_class = OneGetProvider


# The program's `kind` config: which resource it declares.
KINDS: dict[str, type[Any]] = {
    "oncall": Integration,
    "noop": NoopIntegration,
    "one-get": OneGetIntegration,
}
