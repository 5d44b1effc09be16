"""Template findings at preview: rendering declared templates against sample alerts.

Runs in the program, not the provider: only the program can warn (pulumi.log).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pulumi


def schedule(
    resource: pulumi.Resource,
    *,
    type_: pulumi.Input[str],
    templates: pulumi.Input[Mapping[str, Any]] | None,
    dynamic_labels: pulumi.Input[Mapping[str, Any]] | None,
    samples: Sequence[Mapping[str, Any] | str] | None,
) -> None:
    """Once the values are known, render them and report findings on `resource`."""
