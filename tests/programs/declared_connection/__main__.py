"""Integrations on two OnCalls: stack config's, and a `Connection` declared with the URL
and token another stack exports. Entries of the spec file with `"declared": true` use
the declared one, in the team that a lookup on it finds."""

import json
from pathlib import Path

import pulumi

from pulumi_oncall import Connection, Integration, get_team_output

config = pulumi.Config()
producer = pulumi.StackReference(config.require("producerStack"))
declared = Connection(
    url=producer.require_output("oncall_url"),
    token=producer.require_output("oncall_token"),
)
team = get_team_output("platform", connection=declared)
pulumi.export("declared_team", team.id)

spec = json.loads(Path(config.require("specFile")).read_text())
for resource_name, args in spec.items():
    args = dict(args)
    if args.pop("declared", False):
        args.update(connection=declared, team_id=team.id)
    integration = Integration(resource_name, **args)
    pulumi.export(f"{resource_name}.id", integration.id)
