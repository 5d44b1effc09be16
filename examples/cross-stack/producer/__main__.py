"""Owns an Alertmanager integration and exports its link (a secret) for other stacks."""

import pulumi

from pulumi_oncall import Integration

alertmanager = Integration(
    "alertmanager-shared",
    type="alertmanager",
    name=pulumi.Config().get("name") or "Shared Alertmanager",
)

pulumi.export("alertmanager_link", alertmanager.link)
pulumi.export("alertmanager_id", alertmanager.id)
