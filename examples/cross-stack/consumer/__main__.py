"""Configures an alert source with the producer stack's integration link.

By default it reads the producer's stack of the same name on the same backend
(`organization/oncall-producer/dev` for the `dev` stack of a local file backend);
set `producerStack` to read another one.
"""

import pulumi

producer_stack = (
    pulumi.Config().get("producerStack")
    or f"{pulumi.get_organization()}/oncall-producer/{pulumi.get_stack()}"
)
producer = pulumi.StackReference(producer_stack)
link = producer.require_output("alertmanager_link")

# What an Alertmanager config would receive; the link stays a secret here too.
pulumi.export("webhook_url", link)
pulumi.export("receiver_config", link.apply(lambda url: {"webhook_configs": [{"url": url}]}))
