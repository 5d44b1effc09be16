"""The integration's schema, declared once, as a tree.

Each node is a field with its kind, its doc and its flags. Validation (`check`),
diffing, payloads, adoption, template checks, outputs and secrets walk this tree
(`model`, `template_checks`, `resources`), and `scripts/generate.py` writes the
public TypedDicts (`pulumi_oncall/_args.py`) and the README's field tables from it.
The emulator keeps tables of its own, held against these by a test.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

NAME_MAX_LENGTH = 150
DESCRIPTION_MAX_LENGTH = 250

OSS_TYPES: tuple[str, ...] = (
    "alertmanager",
    "grafana",
    "grafana_alerting",
    "webhook",
    "formatted_webhook",
    "kapacitor",
    "elastalert",
    "zabbix",
    "manual",
    "inbound_email",
)

# Types that Grafana Cloud accepts besides those.
CLOUD_TYPES: tuple[str, ...] = (
    "amazon_sns",
    "curler",
    "datadog",
    "fabric",
    "jira",
    "newrelic",
    "pagerduty",
    "pingdom",
    "prtg",
    "sentry",
    "stackdriver",
    "uptimerobot",
    "zendesk",
)

KNOWN_TYPES: tuple[str, ...] = OSS_TYPES + CLOUD_TYPES

# Types the API always refuses to create, with the reason the server gives.
REFUSED_TYPES: dict[str, str] = {
    "direct_paging": "Direct paging integrations can't be created",
    "legacy_alertmanager": "This integration type is deprecated",
    "legacy_grafana_alerting": "This integration type is deprecated",
    "maintenance": (
        "the server accepts it but the integration is then invisible to the API, "
        "so it could never be read, updated or deleted"
    ),
}

# Of those, the ones that cannot be managed even when they already exist: direct
# paging integrations cannot be deleted, maintenance ones cannot be read.
UNMANAGEABLE_TYPES: dict[str, str] = {
    "direct_paging": "the API can neither create nor delete direct paging integrations",
    "maintenance": "maintenance integrations are invisible to the API",
}


Kind = Literal[
    "string", "id", "template", "bool", "object", "mapping", "list", "samples", "type", "choice"
]
# Where a field goes: "api" is sent to OnCall; "provider" steers the provider and is
# kept in the state; "program" never leaves the program; "output" is set by the server.
Role = Literal["api", "provider", "program", "output"]


@dataclass(frozen=True)
class Node:
    """One field of the tree."""

    name: str
    kind: Kind
    doc: str
    """One sentence or two, for docstrings."""
    readme: str = ""
    """The README's text for the field, when it says more than `doc`."""
    children: tuple[Node, ...] = ()
    """The fields of an "object"."""
    role: Role = "api"
    required: bool = False
    replaces: bool = False
    """Changing it replaces the integration."""
    cloud_only: bool = False
    secret: bool = False
    """An output whose value grants access: registered as a secret."""
    max_length: int | None = None
    trimmed: bool = False
    """The server trims its surrounding spaces."""
    empty_is_none: bool = False
    """An id the server reads as null when it is `""`: `""` declares "none"."""
    reset_to: bool | None = None
    """A flag with a documented server default, sent when the flag is removed."""
    target: str | None = None
    """Of a messaging backend: its target field, without which it is not adopted."""
    render_as: str | None = None
    """Of a template: what it is for (`title`, `grouping_key`, ...), for rendering checks."""
    type_name: str | None = None
    """Of an object: the name of its public TypedDict (shared by objects of one shape)."""
    example: str = ""
    py_type: str = ""
    """Of an output: its Python type, for the resource's annotations."""
    source: tuple[str, ...] = ()
    """Of an output: where the server's body holds it."""
    input_type: str = ""
    """The argument's Python type, when it is not the kind's usual one."""
    choices: tuple[str, ...] = ()
    """Of a "choice": the values it takes, the first being the server's default."""

    def child(self, name: str) -> Node | None:
        return next((c for c in self.children if c.name == name), None)

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.children)


def _backend(name: str, target: str, doc: str, *, cloud_only: bool = False) -> Node:
    slack = name == "slack"
    return Node(
        name,
        "object",
        doc,
        children=(
            Node(
                target,
                "string",
                "The Slack channel id to post alert groups to."
                if slack
                else "The channel, chat or target id of this backend.",
            ),
            Node(
                "enabled",
                "bool",
                "Whether to post to it (the server's default is true)."
                if slack
                else "Whether to post to it.",
                reset_to=True if slack else None,
            ),
        ),
        target=target,
        cloud_only=cloud_only,
        type_name="RouteSlackArgs" if slack else "RouteTargetArgs",
    )


_GROUP_SHAPES = {
    ("title",): "TitleTemplateArgs",
    ("title", "message"): "TitleMessageTemplateArgs",
    ("title", "message", "image_url"): "RichTemplateArgs",
}
_GROUP_FIELD_DOCS = {
    "title": "The alert group's title here.",
    "message": "The alert group's message here.",
    "image_url": "The URL of an image to show with the alert group here.",
}


def _group(name: str, fields: tuple[str, ...], doc: str, *, cloud_only: bool = False) -> Node:
    return Node(
        name,
        "object",
        doc,
        children=tuple(Node(f, "template", _GROUP_FIELD_DOCS[f], render_as=f) for f in fields),
        cloud_only=cloud_only,
        type_name=_GROUP_SHAPES[fields],
    )


DEFAULT_ROUTE = Node(
    "default_route",
    "object",
    "The default route: escalation chain and messaging backends.",
    readme="`escalation_chain_id`, and per backend `slack{channel_id, enabled}`, "
    "`telegram{id, enabled}`, `msteams{id, enabled}` (Cloud), `mobile_app{id, enabled}`, "
    "`mobile_app_critical{id, enabled}`, `email{id, enabled}`, `webhook{id, enabled}`.",
    type_name="DefaultRouteArgs",
    children=(
        Node(
            "escalation_chain_id",
            "id",
            'The escalation chain (`F...`) that alert groups of this route follow; `""` '
            "means none.",
            empty_is_none=True,
            example="FABC123",
        ),
        _backend("slack", "channel_id", "Post alert groups to a Slack channel."),
        _backend("telegram", "id", "Post alert groups to a Telegram channel."),
        _backend(
            "msteams",
            "id",
            "Post alert groups to Microsoft Teams (Grafana Cloud only).",
            cloud_only=True,
        ),
        _backend("mobile_app", "id", "Notify through the mobile app."),
        _backend("mobile_app_critical", "id", "Notify through the mobile app, as critical."),
        _backend("email", "id", "Notify by email."),
        _backend("webhook", "id", "Call a webhook."),
    ),
)

ROUTE_REGEX_MAX_LENGTH = 1024

ROUTES = Node(
    "routes",
    "list",
    "The integration's routes, in order: the first that matches an alert takes it. The "
    "default route takes what none of them does.",
    readme="The integration's routes, first match first (see Routes). Each: `routing_regex` "
    "(required), `routing_type` (`regex` or `jinja2`), `escalation_chain_id`, the backends "
    "of `default_route`, and `name`, a label of our own. Declared, it is the whole set; "
    "removing the argument clears them; never declared, they are not managed.",
    role="provider",
    type_name="RouteArgs",
    children=(
        Node(
            "routing_regex",
            "string",
            "A regex searched in the alert's JSON text, or a Jinja2 template that renders "
            "true, per `routing_type`. Its surrounding spaces are trimmed, as the server does.",
            required=True,
            max_length=ROUTE_REGEX_MAX_LENGTH,
            trimmed=True,
        ),
        Node(
            "routing_type",
            "choice",
            "`regex` (the default) or `jinja2`.",
            choices=("regex", "jinja2"),
        ),
        Node(
            "escalation_chain_id",
            "id",
            'The escalation chain (`F...`) the route\'s alert groups follow; none, or `""`, '
            "means a route without a chain.",
            empty_is_none=True,
            example="FABC123",
        ),
        *(
            Node(
                b.name,
                b.kind,
                b.doc,
                children=b.children,
                target=b.target,
                cloud_only=b.cloud_only,
                type_name=b.type_name,
            )
            for b in DEFAULT_ROUTE.children
            if b.target is not None
        ),
        Node(
            "name",
            "string",
            "A name of our own for the route, unique within the integration: kept in the "
            "state, never sent. It shows in previews and errors, and keeps the route's "
            "identity through edits and moves.",
            role="provider",
        ),
    ),
)

TEMPLATES = Node(
    "templates",
    "object",
    "Jinja2 templates, checked at preview with OnCall's filters. A template left out is "
    "the server's built-in default.",
    readme="`grouping_key`, `resolve_signal`, `acknowledge_signal`, `source_link`, and groups "
    "`slack{title, message, image_url}`, `web{title, message, image_url}`, `sms{title}`, "
    "`phone_call{title}`, `telegram{title, message, image_url}`, `mobile_app{title, message}`, "
    "`email{title, message}`, `webhook{title, message, image_url}`, "
    "`msteams{title, message, image_url}` (Cloud).",
    type_name="TemplatesArgs",
    children=(
        Node(
            "grouping_key",
            "template",
            "Alerts with the same key are grouped into one alert group.",
            render_as="grouping_key",
        ),
        Node(
            "resolve_signal",
            "template",
            "Renders true when an alert resolves its group.",
            render_as="resolve_signal",
        ),
        Node(
            "acknowledge_signal",
            "template",
            "Renders true when an alert acknowledges its group.",
            render_as="acknowledge_signal",
        ),
        Node(
            "source_link", "template", "A link back to the alert's source.", render_as="source_link"
        ),
        _group("slack", ("title", "message", "image_url"), "How alert groups look in Slack."),
        _group("web", ("title", "message", "image_url"), "How alert groups look in the web UI."),
        _group("sms", ("title",), "The text of SMS notifications."),
        _group("phone_call", ("title",), "What phone calls say."),
        _group("telegram", ("title", "message", "image_url"), "How alert groups look in Telegram."),
        _group("mobile_app", ("title", "message"), "Mobile app notifications."),
        _group("email", ("title", "message"), "Email notifications."),
        _group("webhook", ("title", "message", "image_url"), "What outgoing webhooks get."),
        _group(
            "msteams",
            ("title", "message", "image_url"),
            "How alert groups look in Microsoft Teams (Grafana Cloud only).",
            cloud_only=True,
        ),
    ),
)

INTEGRATION = Node(
    "Integration",
    "object",
    "A Grafana OnCall integration: a source of alerts.",
    children=(
        Node(
            "type",
            "type",
            "The integration type (`alertmanager`, `grafana`, `webhook`, ...). Changing it "
            "replaces the integration: the API cannot change the type of an existing one.",
            readme="Required. "
            + ", ".join(f"`{t}`" for t in OSS_TYPES)
            + "; on Grafana Cloud also "
            + ", ".join(f"`{t}`" for t in CLOUD_TYPES)
            + ". Any other type fails the preview with a suggestion. Changing it **replaces** "
            "the integration (the API cannot change it).",
            required=True,
            replaces=True,
        ),
        Node(
            "name",
            "string",
            "The integration's name, unique per team. Defaults to the Pulumi resource name; "
            "with `import_id`, an undeclared name keeps the adopted integration's.",
            readme="Unique per team. Defaults to the resource name (never to a server-invented "
            "name); with `import_id`, an undeclared name keeps the adopted integration's. "
            f"Surrounding spaces are trimmed, at most {NAME_MAX_LENGTH} characters.",
            max_length=NAME_MAX_LENGTH,
            trimmed=True,
        ),
        Node(
            "team_id",
            "id",
            'The id (`T...`) of the team that owns the integration; `""` means no team.',
            readme='The owning team (`T...`); changing it moves the integration. `""` declares '
            '"no team" (as Terraform\'s provider sends it): the server reads it as none, and a '
            "move into a team shows as drift. The same holds for "
            "`default_route.escalation_chain_id`.",
            empty_is_none=True,
            example="TABC123",
        ),
        Node(
            "description_short",
            "string",
            f"A short description, at most {DESCRIPTION_MAX_LENGTH} characters.",
            readme=f"At most {DESCRIPTION_MAX_LENGTH} characters. Surrounding spaces are "
            "trimmed, as the server trims them (also those of label keys and static label "
            "values).",
            max_length=DESCRIPTION_MAX_LENGTH,
            trimmed=True,
        ),
        DEFAULT_ROUTE,
        ROUTES,
        TEMPLATES,
        Node(
            "labels",
            "mapping",
            "Static labels, label key to value (Grafana Cloud). The order never matters.",
            readme='Grafana Cloud. Static labels as a mapping, label key to value: `{"env": '
            '"prod"}`. Order never matters; removing the argument clears them.',
            trimmed=True,
        ),
        Node(
            "dynamic_labels",
            "mapping",
            "Labels computed per alert: label key to a Jinja2 template (Grafana Cloud).",
            readme="Grafana Cloud. Labels computed per alert, label key to a Jinja2 template.",
            render_as="dynamic_label",
        ),
        Node(
            "connection",
            "string",
            "The name of an OnCall connection in `oncall:connections`, or a "
            "`pulumi_oncall.Connection` declared in the program (its token is then stored in "
            "the state, as a secret); none means the default settings. Moving to another "
            "OnCall replaces the integration.",
            readme="The name of a connection in `oncall:connections`, for a second OnCall (see "
            "Grafana Cloud IRM below), or a `Connection` declared in the program (see "
            "Connections declared in the program). Default: `oncall:url` and `oncall:token`.",
            role="provider",
            replaces=True,
            input_type="str | Connection | None",
            # A name, or a declared connection's values (a secret).
            py_type="Any",
        ),
        Node(
            "import_id",
            "id",
            "The id (`C...`) of an existing integration to adopt on create instead of "
            "creating one. Inert once adopted.",
            readme="The id (`C...`) of an existing integration to adopt instead of creating one "
            "(see Adopting existing integrations).",
            role="provider",
            example="CABC123",
        ),
        Node(
            "template_samples",
            "samples",
            "Alert payloads (dicts, or paths to JSON files) to render the templates against "
            "at preview, instead of the built-in samples of the type.",
            readme="Alert payloads, or paths of JSON files holding them, to render the "
            "templates against at preview instead of the type's built-in samples (see Checking "
            "templates).",
            role="program",
            input_type="Sequence[TemplateSample] | None",
        ),
    ),
)

# The docstrings of the public TypedDicts that several objects share.
TYPE_DOCS: dict[str, str] = {
    "DefaultRouteArgs": "The integration's default route: where alerts no route takes go.",
    "RouteArgs": "One route of an integration.",
    "RouteSlackArgs": "Where a route posts in Slack.",
    "RouteTargetArgs": "A messaging backend of a route: its target and whether it is on.",
    "TemplatesArgs": "Jinja2 templates. A template left out is the server's built-in default.",
    "TitleTemplateArgs": "A template group with a title.",
    "TitleMessageTemplateArgs": "A template group with a title and a message.",
    "RichTemplateArgs": "A template group with a title, a message and an image.",
}

# What only the server sets, in the order the README lists them.
OUTPUTS: tuple[Node, ...] = (
    Node(
        "integration_id",
        "string",
        "The integration's id (`C...`), also the Pulumi resource id.",
        source=("id",),
        role="output",
        py_type="str",
    ),
    Node(
        "link",
        "string",
        "The URL alert sources post to. A secret: whoever holds it can post alerts.",
        source=("link",),
        role="output",
        secret=True,
        py_type="str | None",
    ),
    Node(
        "inbound_email",
        "string",
        "The address that receives alerts, for type `inbound_email`. A secret, like `link`.",
        source=("inbound_email",),
        role="output",
        secret=True,
        py_type="str | None",
    ),
    Node(
        "heartbeat_link",
        "string",
        "The heartbeat URL, when the type supports heartbeats. A secret: it contains the "
        "link's token.",
        source=("heartbeat", "link"),
        role="output",
        secret=True,
        py_type="str | None",
    ),
    Node(
        "default_route_id",
        "string",
        "The id (`R...`) of the default route.",
        source=("default_route", "id"),
        role="output",
        py_type="str | None",
    ),
    Node(
        "maintenance_mode",
        "string",
        "The maintenance mode, or None when not in maintenance.",
        source=("maintenance_mode",),
        role="output",
        py_type="str | None",
    ),
)


def walk(
    node: Node = INTEGRATION, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], Node]]:
    """Every node below `node` with its path, depth first, in declaration order."""
    for child in node.children:
        here = (*path, child.name)
        yield here, child
        yield from walk(child, here)


def at(path: tuple[str, ...]) -> Node | None:
    """The node at `path`, or None."""
    node: Node | None = INTEGRATION
    for part in path:
        node = node.child(part) if node is not None else None
    return node


# -- Derived views, for the code that wants a flat table -------------------------------

FIELDS: tuple[Node, ...] = INTEGRATION.children
FIELD_NAMES: tuple[str, ...] = INTEGRATION.keys
API_FIELDS: tuple[str, ...] = tuple(f.name for f in FIELDS if f.role == "api")
# What the provider receives and keeps in the state.
PROVIDER_FIELDS: tuple[str, ...] = tuple(f.name for f in FIELDS if f.role != "program")
REPLACE_FIELDS: frozenset[str] = frozenset(f.name for f in FIELDS if f.replaces)
# Mappings sent as a whole: their entries have no meaning one by one on the wire.
MAPPING_FIELDS: tuple[str, ...] = tuple(f.name for f in FIELDS if f.kind == "mapping")
TEMPLATE_FIELDS: tuple[str, ...] = tuple(c.name for c in TEMPLATES.children if c.kind == "template")
TEMPLATE_GROUPS: dict[str, tuple[str, ...]] = {
    c.name: c.keys for c in TEMPLATES.children if c.kind == "object"
}
ROUTE_BACKENDS: dict[str, str] = {
    c.name: c.target for c in DEFAULT_ROUTE.children if c.target is not None
}
CLOUD_ONLY_TEMPLATE_GROUPS = frozenset(c.name for c in TEMPLATES.children if c.cloud_only)
CLOUD_ONLY_ROUTE_BACKENDS = frozenset(c.name for c in DEFAULT_ROUTE.children if c.cloud_only)
OUTPUT_DOCS: dict[str, str] = {o.name: o.doc for o in OUTPUTS}
SECRET_OUTPUTS: tuple[str, ...] = tuple(o.name for o in OUTPUTS if o.secret)
# Dynamic labels that Grafana Cloud adds by itself (`service_name` on grafana_alerting
# integrations): kept out of a declared set that does not name them, and kept on the
# server when that set changes.
SERVER_ADDED_DYNAMIC_LABELS: frozenset[str] = frozenset({"service_name"})
