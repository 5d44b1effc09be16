"""Raw HTTP requests to an emulator, as any client of the OnCall API would make them."""

from __future__ import annotations

from typing import Any

import httpx
from emulator_seed import TOKEN

from pulumi_oncall.emulator import EmulatorProcess

# One client for all tests: a new one per request costs ~50 ms of TLS setup.
HTTP = httpx.Client(timeout=10)


def call(
    emu: EmulatorProcess,
    method: str,
    path: str,
    body: Any = None,
    *,
    token: str | None = TOKEN,
    grafana_url: str | None = None,
    **kwargs: Any,
) -> httpx.Response:
    """`token` goes raw in Authorization (None sends none); `grafana_url` as X-Grafana-URL."""
    headers = dict(kwargs.pop("headers", {}))
    if token is not None:
        headers.setdefault("Authorization", token)
    if grafana_url is not None:
        headers["X-Grafana-URL"] = grafana_url
    if body is not None:
        kwargs["json"] = body
    return HTTP.request(method, emu.url + path, headers=headers, **kwargs)
