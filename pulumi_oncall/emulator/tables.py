"""What the emulated server accepts, declared once and independently of the client.

The client has tables of its own (`pulumi_oncall._schema`); these are the server's,
from the behaviour notes and the engine's source, so that a mistake on one side is
caught by the other. `tests/test_emulator_schema.py` holds the two against each
other and lists where they differ on purpose.
"""

from __future__ import annotations

# Column and serializer limits.
NAME_MAX_LENGTH = 150  # AlertReceiveChannel.verbal_name is varchar(150)
DESCRIPTION_MAX_LENGTH = 250
ROUTING_REGEX_MAX_LENGTH = 1024  # ChannelFilter.FILTERING_TERM_MAX_LENGTH
POSITION_MAX = 2147483647  # a PositiveIntegerField

# The integration serializer's writable fields (the rest of its fields are read-only:
# id, link, inbound_email, heartbeat, maintenance_*); labels exist on Cloud only.
INTEGRATION_WRITABLE_FIELDS: tuple[str, ...] = (
    "type",
    "name",
    "team_id",
    "description_short",
    "default_route",
    "templates",
    "labels",
    "dynamic_labels",
)

# Top-level templates of an integration.
TEMPLATE_FIELDS: tuple[str, ...] = (
    "grouping_key",
    "resolve_signal",
    "acknowledge_signal",
    "source_link",
)

# Template groups, one per messaging backend, and their fields (in the server's order).
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

# The backend blocks of a route and each one's target field. Slack and Telegram are
# columns of the route; the others are messaging backends (`notification_backends`).
# Where Cloud lists msteams among them is not known: next to telegram, as the
# integration's default_route has always shown it here.
ROUTE_BACKENDS: dict[str, str] = {
    "slack": "channel_id",
    "telegram": "id",
    "msteams": "id",
    "mobile_app": "id",
    "mobile_app_critical": "id",
    "email": "id",
    "webhook": "id",
}
# Backends that are columns of the route rather than messaging backends.
ROUTE_COLUMN_BACKENDS = frozenset({"slack", "telegram"})

# Grafana Cloud only: the open-source server does not have the msteams backend.
CLOUD_ONLY_TEMPLATE_GROUPS = frozenset({"msteams"})
CLOUD_ONLY_ROUTE_BACKENDS = frozenset({"msteams"})

# Backends that notify unless told otherwise (ChannelFilter.notify_in_slack=True).
ENABLED_BY_DEFAULT = frozenset({"slack"})

# Types the open-source engine creates through the public API.
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

# Types that Grafana Cloud creates besides those.
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

# Accepted on create, then hidden from the API.
HIDDEN_TYPES = frozenset({"maintenance"})

# Types refused on create, with the server's message.
REFUSED_TYPES: dict[str, str] = {
    "direct_paging": "Direct paging integrations can't be created",
    "legacy_alertmanager": "This integration type is deprecated",
    "legacy_grafana_alerting": "This integration type is deprecated",
}
# The prefix of deprecated types, which the API shows without it.
LEGACY_PREFIX = "legacy_"

# Types without an alert-posting URL.
LINKLESS_TYPES = frozenset({"manual", "inbound_email"})

# Used to invent a name when the request has none.
DISPLAY_NAMES: dict[str, str] = {
    "grafana": "Grafana Legacy Alerting",
    "grafana_alerting": "Grafana Alerting",
    "webhook": "Webhook",
    "alertmanager": "Alertmanager",
    "formatted_webhook": "Formatted webhook",
    "kapacitor": "Kapacitor",
    "elastalert": "Elastalert",
    "zabbix": "Zabbix",
    "manual": "Manual",
    "inbound_email": "Inbound Email",
    "maintenance": "Maintenance",
    "amazon_sns": "Amazon SNS",
    "datadog": "Datadog",
    "pagerduty": "PagerDuty",
    "pingdom": "Pingdom",
    "sentry": "Sentry",
    "stackdriver": "Stackdriver",
    "uptimerobot": "UptimeRobot",
    "prtg": "PRTG",
    "newrelic": "New Relic",
    "jira": "Jira",
    "zendesk": "Zendesk",
    "curler": "Curler",
    "fabric": "Fabric",
}

# Route types (ChannelFilter.FILTERING_TERM_TYPE_CHOICES); the public API refuses labels.
ROUTING_TYPES: tuple[str, ...] = ("regex", "jinja2", "labels")
DEFAULT_ROUTING_TYPE = "regex"

# The dynamic label Grafana Cloud adds to grafana_alerting integrations
# (apps/alerts/constants.py: SERVICE_LABEL, SERVICE_LABEL_TEMPLATE_FOR_ALERTING_INTEGRATION).
SERVICE_LABEL = "service_name"
SERVICE_LABEL_TEMPLATE = "{{ payload.commonLabels.service_name }}"
SERVICE_LABEL_TYPE = "grafana_alerting"

# Page sizes: integrations, teams and chains (FiftyPageSizePaginator), routes
# (TwentyFivePageSizePaginator, perpage capped at 100 as observed).
DEFAULT_PAGE_SIZE = 50
ROUTES_PAGE_SIZE = 25
ROUTES_MAX_PAGE_SIZE = 100
