"""Configures an alert source with the producer stack's integration link.

Set `producerStack` to the producer's fully qualified stack name, e.g.
`organization/oncall-producer/dev` on a local file backend.
"""

import pulumi

producer = pulumi.StackReference(pulumi.Config().require("producerStack"))
link = producer.require_output("alertmanager_link")

# What an Alertmanager config would receive; the link stays a secret here too.
pulumi.export("webhook_url", link)
pulumi.export("receiver_config", link.apply(lambda url: {"webhook_configs": [{"url": url}]}))
