"""Exports an OnCall URL and its token (a secret) for other stacks, as a platform stack
that made a service account and its token would."""

import pulumi

config = pulumi.Config()
pulumi.export("oncall_url", config.require("oncallUrl"))
pulumi.export("oncall_token", config.require_secret("oncallToken"))
