"""A test program whose integrations come from a JSON file, so tests edit data, not code.

The file maps resource names to Integration arguments; an `import_option` key passes
Pulumi's own `import_` resource option.
"""

import json
from pathlib import Path

import pulumi

from pulumi_oncall import Integration

spec = json.loads(Path(pulumi.Config().require("specFile")).read_text())
for resource_name, args in spec.items():
    args = dict(args)
    pulumi_import = args.pop("import_option", None)
    opts = pulumi.ResourceOptions(import_=pulumi_import) if pulumi_import else None
    integration = Integration(resource_name, **args, opts=opts)
    pulumi.export(f"{resource_name}.id", integration.id)
    pulumi.export(f"{resource_name}.link", integration.link)
