"""One Alertmanager integration, routed to an escalation chain, with Slack templates."""

import pulumi

from pulumi_oncall import Integration

config = pulumi.Config()

alertmanager = Integration(
    "alertmanager",
    type="alertmanager",
    name=config.get("name") or "Alertmanager (basic example)",
    team_id=config.get("teamId"),
    default_route=(
        {"escalation_chain_id": config.get("escalationChainId")}
        if config.get("escalationChainId")
        else None
    ),
    templates={
        "grouping_key": "{{ payload.groupKey }}",
        "resolve_signal": '{{ payload.status == "resolved" }}',
        "slack": {
            "title": "{{ payload.commonLabels.alertname }} ({{ payload.status }})",
            "message": "{{ payload.commonAnnotations.summary }}",
        },
    },
)

pulumi.export("id", alertmanager.id)
pulumi.export("link", alertmanager.link)
