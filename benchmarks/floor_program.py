"""The floor benchmark's program (copied as `__main__.py` next to bench_providers.py)."""

import bench_providers
import pulumi

config = pulumi.Config()
resource = bench_providers.KINDS[config.require("kind")]
routes = config.get_int("routes") or 0
for i in range(config.require_int("count")):
    resource(
        f"i{i}",
        type="webhook",
        name=f"{pulumi.get_stack()} {i}",
        description_short=config.require("description"),
        templates=bench_providers.TEMPLATES[config.get("templates") or "web"],
        **(
            {"routes": [{"routing_regex": f"svc-{i}-{n}"} for n in range(routes)]} if routes else {}
        ),
    )
