"""The integration's schema, declared once.

Validation (`check`), diffing, the request payload, the emulator and the README's
field tables all derive from these tables.
"""

from __future__ import annotations

from dataclasses import dataclass

NAME_MAX_LENGTH = 150
DESCRIPTION_MAX_LENGTH = 250

# Top-level templates: a Jinja2 string or null.
TEMPLATE_FIELDS: tuple[str, ...] = (
    "grouping_key",
    "resolve_signal",
    "acknowledge_signal",
    "source_link",
)

# Template groups (one per messaging backend) and the fields each one takes.
TEMPLATE_GROUPS: dict[str, tuple[str, ...]] = {
    "slack": ("title", "message", "image_url"),
    "web": ("title", "message", "image_url"),
    "sms": ("title",),
    "phone_call": ("title",),
    "telegram": ("title", "message", "image_url"),
    "mobile_app": ("title", "message"),
    "email": ("title", "message"),
    "webhook": ("title", "message", "image_url"),
    "msteams": ("title", "message", "image_url"),
}

# Route backends of `default_route` and the name of each one's target field.
ROUTE_BACKENDS: dict[str, str] = {
    "slack": "channel_id",
    "telegram": "id",
    "msteams": "id",
    "mobile_app": "id",
    "mobile_app_critical": "id",
    "email": "id",
    "webhook": "id",
}

# Served by Grafana Cloud only; an open-source server drops them silently.
CLOUD_ONLY_TEMPLATE_GROUPS = frozenset({"msteams"})
CLOUD_ONLY_ROUTE_BACKENDS = frozenset({"msteams"})

# Types the open-source engine accepts.
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


@dataclass(frozen=True)
class Field:
    """An argument of the Integration resource.

    `kind` says where it goes: "api" fields are sent to OnCall; "provider" fields
    steer the provider and are kept in the state; "program" fields never leave the
    program.
    """

    name: str
    doc: str
    kind: str = "api"
    required: bool = False
    replaces: bool = False


FIELDS: tuple[Field, ...] = (
    Field(
        "type",
        "The integration type (`alertmanager`, `grafana`, `webhook`, ...). Changing it "
        "replaces the integration: the API cannot change the type of an existing one.",
        required=True,
        replaces=True,
    ),
    Field(
        "name",
        "The integration's name, unique per team. Defaults to the Pulumi resource name.",
    ),
    Field(
        "team_id",
        'The id (`T...`) of the team that owns the integration; `""` means no team.',
    ),
    Field(
        "description_short", f"A short description, at most {DESCRIPTION_MAX_LENGTH} characters."
    ),
    Field(
        "default_route",
        "The default route: `escalation_chain_id` and one block per messaging backend "
        "(" + ", ".join(f"`{b}{{{k}, enabled}}`" for b, k in ROUTE_BACKENDS.items()) + ").",
    ),
    Field(
        "templates",
        "Jinja2 templates: "
        + ", ".join(f"`{t}`" for t in TEMPLATE_FIELDS)
        + ", and groups "
        + ", ".join(f"`{g}{{{', '.join(fs)}}}`" for g, fs in TEMPLATE_GROUPS.items())
        + ".",
    ),
    Field(
        "labels",
        "Static labels, label key to value (Grafana Cloud). The order never matters.",
    ),
    Field(
        "dynamic_labels",
        "Labels computed per alert: label key to a Jinja2 template (Grafana Cloud).",
    ),
    Field(
        "connection",
        "The name of an OnCall connection in `oncall:connections`; none means the default "
        "settings. Moving to another OnCall replaces the integration.",
        kind="provider",
        replaces=True,
    ),
    Field(
        "import_id",
        "The id (`C...`) of an existing integration to adopt on create instead of creating "
        "one. Inert once adopted.",
        kind="provider",
    ),
    Field(
        "template_samples",
        "Alert payloads (dicts, or paths to JSON files) to render the templates against at "
        "preview, instead of the built-in samples of the type.",
        kind="program",
    ),
)

FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in FIELDS)
API_FIELDS: tuple[str, ...] = tuple(f.name for f in FIELDS if f.kind == "api")
# What the provider receives and keeps in the state.
PROVIDER_FIELDS: tuple[str, ...] = tuple(f.name for f in FIELDS if f.kind != "program")
REPLACE_FIELDS: frozenset[str] = frozenset(f.name for f in FIELDS if f.replaces)
# Mappings sent as a whole: their entries have no meaning one by one on the wire.
MAPPING_FIELDS: tuple[str, ...] = ("labels", "dynamic_labels")
# Dynamic labels that Grafana Cloud adds by itself (`service_name` on grafana_alerting
# integrations): kept out of a declared set that does not name them, and kept on the
# server when that set changes.
SERVER_ADDED_DYNAMIC_LABELS: frozenset[str] = frozenset({"service_name"})

# Outputs that only the server sets.
OUTPUT_DOCS: dict[str, str] = {
    "integration_id": "The integration's id (`C...`), also the Pulumi resource id.",
    "link": "The URL that alert sources post to. A secret: whoever holds it can post alerts.",
    "inbound_email": "The address that receives alerts, for type `inbound_email`.",
    "heartbeat_link": "The heartbeat URL, when the type supports heartbeats.",
    "default_route_id": "The id (`R...`) of the default route.",
    "maintenance_mode": "The maintenance mode, or none when not in maintenance.",
}
