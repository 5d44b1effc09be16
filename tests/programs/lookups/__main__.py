"""Looks up a team and an escalation chain by name and reads an integration by id."""

import pulumi

from pulumi_oncall import (
    Integration,
    get_escalation_chain,
    get_escalation_chain_output,
    get_integration,
    get_team,
)

config = pulumi.Config()
team = get_team(config.require("teamName"))
chain = get_escalation_chain(config.require("chainName"))

routed = Integration(
    "routed",
    type="webhook",
    name="Routed by name",
    team_id=team.id,
    default_route={"escalation_chain_id": chain.id},
)

existing = Integration.get("existing", config.require("existingId"))
info = get_integration(config.require("existingName"))

pulumi.export("team_id", team.id)
pulumi.export("chain_id", chain.id)
pulumi.export("chain_output_id", get_escalation_chain_output(config.require("chainName")).id)
pulumi.export("existing_name", existing.name)
pulumi.export("existing_templates", existing.templates)
pulumi.export("existing_link", existing.link)
pulumi.export("info", {"id": info.id, "type": info.type, "templates": info.templates})
