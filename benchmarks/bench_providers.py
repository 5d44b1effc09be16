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

from pulumi_oncall import Integration
from pulumi_oncall import _schema as schema
from pulumi_oncall._provider import PROVIDER_KEY, IntegrationProvider
from pulumi_oncall._resources import register_dynamic

# What only the server sets: the floor makes them up once, at create.
OUTPUTS = frozenset(schema.OUTPUT_DOCS)


class NoopProvider(ResourceProvider):
    """The floor: what the engine and the dynamic provider host cost, with no I/O.

    Its outputs have the shape and size of an integration's (id, link and heartbeat
    link, route id), so that both sides give the engine the same state to keep and the
    same secrets to encrypt.
    """

    serialize_as_secret_always = False

    def __getstate__(self) -> dict[str, Any]:
        return {}

    def create(self, props: dict[str, Any]) -> CreateResult:
        integration_id = "C" + uuid.uuid4().hex[:12].upper()
        link = f"http://oncall.localhost/integrations/v1/webhook/{uuid.uuid4().hex[:25]}/"
        outputs = {
            **props,
            "integration_id": integration_id,
            "link": link,
            "heartbeat_link": link + "heartbeat/",
            "default_route_id": "R" + uuid.uuid4().hex[:12].upper(),
        }
        return CreateResult(integration_id, outputs)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        def inputs(props: dict[str, Any]) -> dict[str, Any]:
            return {k: v for k, v in props.items() if k != PROVIDER_KEY and k not in OUTPUTS}

        return DiffResult(changes=inputs(olds) != inputs(news))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        return ReadResult(id_, props)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult({**olds, **news, **{k: olds.get(k) for k in OUTPUTS}})

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
    """Reads with one GET per integration (and one list of routes), whatever the
    stack's size: what a refresh costs without the connection's bulk reads."""

    def read_integration(self, connection: str | None, id_: str) -> dict[str, Any]:
        return self.client(connection).get_integration(id_)

    def read_routes(self, connection: str | None, id_: str) -> list[dict[str, Any]]:
        return self.client(connection).list_routes(id_)


class OneGetIntegration(Integration, module="oncall", name="Integration"):
    """`Integration` on `OneGetProvider`: the same type, so the same engine work."""

    def _register(
        self, resource_name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None
    ) -> None:
        props = {**props, **dict.fromkeys(schema.OUTPUT_DOCS)}
        secrets = pulumi.ResourceOptions(additional_secret_outputs=list(schema.SECRET_OUTPUTS))
        register_dynamic(
            self, OneGetProvider, resource_name, props, pulumi.ResourceOptions.merge(secrets, opts)
        )


# The program's `templates` config: what each integration declares.
TEMPLATES: dict[str, dict[str, Any] | None] = {
    "web": {"web": {"title": "{{ payload.title }}"}},
    "grouping_key": {"grouping_key": "{{ payload.alert_uid }}"},
    "none": None,
}

# The program's `kind` config: which resource it declares.
KINDS: dict[str, type[Any]] = {
    "oncall": Integration,
    "noop": NoopIntegration,
    "one-get": OneGetIntegration,
}
