"""The public `Integration` resource and the shapes of its arguments."""

# No `from __future__ import annotations` here: the SDK evaluates this class's
# annotations on every registration, and strings would be parsed again each time.
import builtins
from collections.abc import Mapping, Sequence
from typing import Any, TypedDict

import pulumi
from pulumi.dynamic import Resource, ResourceProvider
from pulumi.dynamic.dynamic import serialize_provider

from . import model, program_checks, schema, template_checks
from .provider import PROVIDER_KEY, SECRET_KEYS, IntegrationProvider

TemplateInput = pulumi.Input[str] | None
# A sample alert payload, or the path of a JSON file holding one.
TemplateSample = Mapping[str, Any] | str


class RouteSlackArgs(TypedDict, total=False):
    channel_id: pulumi.Input[str]
    """The Slack channel id to post alert groups to."""
    enabled: pulumi.Input[bool]
    """Whether to post to it (the server's default is true)."""


class RouteTargetArgs(TypedDict, total=False):
    id: pulumi.Input[str]
    """The channel, chat or target id of this backend."""
    enabled: pulumi.Input[bool]
    """Whether to post to it (the server's default is true)."""


class DefaultRouteArgs(TypedDict, total=False):
    """The integration's default route."""

    escalation_chain_id: pulumi.Input[str]
    """The escalation chain (`F...`) that alert groups of this route follow."""
    slack: pulumi.Input[RouteSlackArgs]
    telegram: pulumi.Input[RouteTargetArgs]
    msteams: pulumi.Input[RouteTargetArgs]
    """Grafana Cloud only."""
    mobile_app: pulumi.Input[RouteTargetArgs]
    mobile_app_critical: pulumi.Input[RouteTargetArgs]
    email: pulumi.Input[RouteTargetArgs]
    webhook: pulumi.Input[RouteTargetArgs]


class TitleTemplateArgs(TypedDict, total=False):
    title: TemplateInput


class TitleMessageTemplateArgs(TitleTemplateArgs, total=False):
    message: TemplateInput


class RichTemplateArgs(TitleMessageTemplateArgs, total=False):
    image_url: TemplateInput


class TemplatesArgs(TypedDict, total=False):
    """Jinja2 templates. A template left out is the server's built-in default."""

    grouping_key: TemplateInput
    """Alerts with the same key are grouped into one alert group."""
    resolve_signal: TemplateInput
    """Renders true when an alert resolves its group."""
    acknowledge_signal: TemplateInput
    """Renders true when an alert acknowledges its group."""
    source_link: TemplateInput
    """A link back to the alert's source."""
    slack: pulumi.Input[RichTemplateArgs]
    web: pulumi.Input[RichTemplateArgs]
    sms: pulumi.Input[TitleTemplateArgs]
    phone_call: pulumi.Input[TitleTemplateArgs]
    telegram: pulumi.Input[RichTemplateArgs]
    mobile_app: pulumi.Input[TitleMessageTemplateArgs]
    email: pulumi.Input[TitleMessageTemplateArgs]
    webhook: pulumi.Input[RichTemplateArgs]
    msteams: pulumi.Input[RichTemplateArgs]
    """Grafana Cloud only."""


class Integration(Resource, module="oncall", name="Integration"):
    """A Grafana OnCall integration: a source of alerts (Alertmanager, Grafana, webhook, ...).

    Only the fields you declare are managed: what you leave out keeps the server's
    default, and removing a field from the program resets it on the server.
    """

    integration_id: pulumi.Output[str]
    """The integration's id (`C...`), also the Pulumi resource id."""
    type: pulumi.Output[str]
    """The integration type."""
    name: pulumi.Output[str]
    """The integration's name."""
    team_id: pulumi.Output[str | None]
    """The owning team, when declared."""
    description_short: pulumi.Output[str | None]
    """The short description, when declared."""
    default_route: pulumi.Output[dict[str, Any] | None]
    """The declared fields of the default route, as the server stored them."""
    templates: pulumi.Output[dict[str, Any] | None]
    """The declared templates, as the server stored them."""
    labels: pulumi.Output[dict[str, str] | None]
    """The declared static labels, as the server stored them."""
    dynamic_labels: pulumi.Output[dict[str, str] | None]
    """The declared dynamic labels, as the server stored them."""
    connection: pulumi.Output[str | None]
    """The name of the OnCall connection the integration lives on; None for the default."""
    import_id: pulumi.Output[str | None]
    """The id this resource adopted on create, when declared."""
    link: pulumi.Output[str | None]
    """The URL alert sources post to. A secret: whoever holds it can post alerts."""
    inbound_email: pulumi.Output[str | None]
    """The address that receives alerts, for type `inbound_email`. A secret, like `link`."""
    heartbeat_link: pulumi.Output[str | None]
    """The heartbeat URL. A secret: it contains the link's token."""
    default_route_id: pulumi.Output[str | None]
    """The id (`R...`) of the default route."""
    maintenance_mode: pulumi.Output[str | None]
    """The maintenance mode, or None."""

    # A subclass may swap the provider (benchmarks compare read strategies this way).
    _provider_class: builtins.type[IntegrationProvider] = IntegrationProvider

    def __init__(
        self,
        resource_name: str,
        *,
        type: pulumi.Input[str],
        name: pulumi.Input[str] | None = None,
        team_id: pulumi.Input[str] | None = None,
        description_short: pulumi.Input[str] | None = None,
        default_route: pulumi.Input[DefaultRouteArgs] | None = None,
        templates: pulumi.Input[TemplatesArgs] | None = None,
        labels: pulumi.Input[Mapping[str, pulumi.Input[str]]] | None = None,
        dynamic_labels: pulumi.Input[Mapping[str, pulumi.Input[str]]] | None = None,
        connection: str | None = None,
        import_id: pulumi.Input[str] | None = None,
        template_samples: Sequence[TemplateSample] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """
        :param resource_name: The Pulumi name of the resource.
        :param type: The integration type (`alertmanager`, `grafana`, `webhook`, ...).
            Changing it replaces the integration.
        :param name: The integration's name, unique per team. Defaults to `resource_name`.
        :param team_id: The team (`T...`) that owns the integration; `""` means no team.
        :param description_short: A short description, at most 250 characters.
        :param default_route: The default route: escalation chain and messaging backends.
        :param templates: Jinja2 templates, checked at preview with OnCall's filters.
        :param labels: Static labels, key to value (Grafana Cloud).
        :param dynamic_labels: Labels computed per alert, key to Jinja2 template (Grafana Cloud).
        :param connection: A named connection of `oncall:connections`; None for the default.
        :param import_id: The id (`C...`) of an existing integration to adopt on create.
        :param template_samples: Alert payloads (or JSON file paths) that the templates are
            rendered against at preview, instead of the type's built-in samples.
        :param opts: Resource options.
        """
        if name is None and import_id is None:
            # With import_id, an undeclared name keeps the adopted integration's.
            name = resource_name
        args: dict[str, Any] = {
            "type": type,
            "name": name,
            "team_id": team_id,
            "description_short": description_short,
            "default_route": default_route,
            "templates": templates,
            "labels": labels,
            "dynamic_labels": dynamic_labels,
            "connection": connection,
            "import_id": import_id,
            "template_samples": template_samples,
        }
        program_checks.plain_problems(resource_name, args)
        props = {key: args[key] for key in schema.PROVIDER_FIELDS}
        secrets = program_checks.secret_keys(props)
        if secrets is not None:
            props[SECRET_KEYS] = secrets
        self._register(resource_name, props, opts)
        program_checks.claim_name(resource_name, name, team_id, connection, import_id)
        program_checks.announce_adoption(
            self, import_id, connection, {k: v for k, v in args.items() if k in schema.API_FIELDS}
        )
        template_checks.schedule(
            self,
            type_=type,
            templates=templates,
            dynamic_labels=dynamic_labels,
            samples=template_samples,
            labels=labels,
        )

    @staticmethod
    def get(
        resource_name: str,
        id: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
        *,
        connection: str | None = None,
    ) -> "Integration":
        """Read an existing integration by id, with all its fields as outputs.

        The integration is not managed: nothing is created, changed or deleted.

        :param resource_name: The Pulumi name of the resulting resource.
        :param id: The integration's id (`C...`).
        :param opts: Resource options.
        :param connection: A named connection of `oncall:connections`; None for the default.
        """
        if isinstance(id, str) and not model.is_id(id):
            raise pulumi.RunError(
                f"Integration.get({resource_name!r}): {id!r} is not an integration id (ASCII "
                "letters and digits, such as 'CABC123'); look one up by name with "
                'pulumi_oncall.get_integration(name="...").id'
            )
        integration = Integration.__new__(Integration)
        props: dict[str, Any] = dict.fromkeys(schema.PROVIDER_FIELDS)
        props["connection"] = connection
        integration._register(
            resource_name, props, pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(id=id))
        )
        return integration

    def _register(
        self, resource_name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None
    ) -> None:
        # Outputs only the server sets; None registers them as outputs.
        props = {**props, **dict.fromkeys(schema.OUTPUT_DOCS)}
        secrets = pulumi.ResourceOptions(
            additional_secret_outputs=["link", "inbound_email", "heartbeat_link"]
        )
        register_dynamic(
            self,
            self._provider_class,
            resource_name,
            props,
            pulumi.ResourceOptions.merge(secrets, opts),
        )


_serialized: dict[builtins.type[ResourceProvider], str] = {}


def register_dynamic(
    resource: Resource,
    provider_class: builtins.type[ResourceProvider],
    resource_name: str,
    props: dict[str, Any],
    opts: pulumi.ResourceOptions | None,
) -> None:
    """Register a dynamic resource whose provider holds no state, serialising it once.

    `pulumi.dynamic.Resource` serialises the provider again for every resource, and
    each time wraps a pickler method once more, never undone: each resource costs more
    than the last, and past about 960 of them the program dies with RecursionError.
    """
    serialized = _serialized.get(provider_class)
    if serialized is None:
        serialized = _serialized[provider_class] = str(serialize_provider(provider_class()))
    props = {**props, PROVIDER_KEY: serialized}
    pulumi.CustomResource.__init__(
        resource, f"pulumi-python:{resource._resource_type_name}", resource_name, props, opts
    )
