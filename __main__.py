"""The integrations of a small platform team: Prometheus (with its routes), Grafana and a
deploy webhook."""

import pulumi

from pulumi_oncall import Integration

config = pulumi.Config()
chain = config.get("escalationChainId")

alertmanager = Integration(
    "alertmanager-prod",
    type="alertmanager",
    description_short="Prometheus Alertmanager of the prod cluster",
    default_route={"escalation_chain_id": chain} if chain else None,
    # First match first; what none takes goes to the default route.
    routes=[
        {
            "name": "critical",
            "routing_regex": '"severity": "critical"',
            **({"escalation_chain_id": chain} if chain else {}),
        },
        {
            "name": "database",
            "routing_type": "jinja2",
            "routing_regex": '{{ payload.commonLabels.team == "database" }}',
            "slack": {"channel_id": "CDATABASE", "enabled": True},
        },
    ],
    templates={
        "grouping_key": "{{ payload.groupKey }}",
        "resolve_signal": '{{ payload.status == "resolved" }}',
        "source_link": "{{ payload.externalURL }}",
        "slack": {"title": "[{{ payload.status | upper }}] {{ payload.commonLabels.alertname }}"},
        "web": {"message": "{{ payload.commonAnnotations.description }}"},
    },
    # Each sample says which route it must take: routing tested at every preview.
    template_samples=["alertmanager-samples.json"],
)

grafana = Integration(
    "grafana-alerting",
    type="grafana",
    name="Grafana alerts",
    templates={"web": {"title": "{{ payload.title }}"}},
)

deploys = Integration(
    "deploy-webhook",
    type="webhook",
    name="Deploy pipeline",
    description_short="Failed deployments from CI",
    default_route={
        **({"escalation_chain_id": chain} if chain else {}),
        "slack": {"channel_id": "CDEPLOYS", "enabled": True},
    },
    templates={
        "grouping_key": "{{ payload.pipeline }}-{{ payload.commit }}",
        "resolve_signal": "{{ payload.state == 'succeeded' }}",
        "web": {
            "title": "Deploy of {{ payload.pipeline }} {{ payload.state }}",
            "message": "{{ payload | tojson_pretty }}",
        },
        "sms": {"title": "Deploy {{ payload.pipeline }} {{ payload.state }}"},
    },
    # The pipeline's own payloads: what the templates are checked against at preview.
    template_samples=["deploy-samples.json"],
)

pulumi.export("alertmanager_link", alertmanager.link)
pulumi.export("grafana_link", grafana.link)
pulumi.export("deploy_webhook_link", deploys.link)
pulumi.export("integration_ids", [alertmanager.id, grafana.id, deploys.id])
