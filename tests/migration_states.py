"""Terraform states and pulumi-grafana stack exports in their real formats, for tests.

The shapes are those `terraform state pull` (format version 4, the grafana provider's
attributes) and `pulumi stack export` (version 3) print.
"""

from __future__ import annotations

import hashlib
from typing import Any

GRAFANA = 'provider["registry.terraform.io/grafana/grafana"]'
AWS = 'provider["registry.terraform.io/hashicorp/aws"]'


def tf_state(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "version": 4,
        "terraform_version": "1.11.4",
        "serial": 12,
        "lineage": "0b7ad8a4-6e0e-8c4f-2d1b-5f3a1e9c7d21",
        "outputs": {},
        "resources": resources,
        "check_results": None,
    }


def tf_resource(
    type_: str,
    name: str,
    instances: list[dict[str, Any]],
    module: str | None = None,
    mode: str = "managed",
    provider: str = GRAFANA,
) -> dict[str, Any]:
    out: dict[str, Any] = {"module": module} if module else {}
    out |= {"mode": mode, "type": type_, "name": name, "provider": provider}
    out["instances"] = instances
    return out


def tf_integration(id_: str, name: str, key: Any = None) -> dict[str, Any]:
    out: dict[str, Any] = {} if key is None else {"index_key": key}
    out |= {
        "schema_version": 0,
        "attributes": {
            "default_route": [
                {
                    "escalation_chain_id": "",
                    "id": "RSTALE00",
                    "msteams": [],
                    "slack": [],
                    "telegram": [],
                }
            ],
            "dynamic_labels": [],
            "id": id_,
            "labels": [],
            "link": "https://oncall.example.com/integrations/v1/webhook/stale/",
            "name": name,
            "team_id": "",
            "templates": [],
            "type": "webhook",
        },
        "sensitive_attributes": [],
        "private": "bnVsbA==",
    }
    return out


def tf_route(
    id_: str, integration_id: str, position: int, regex: str, key: Any = None
) -> dict[str, Any]:
    out: dict[str, Any] = {} if key is None else {"index_key": key}
    out |= {
        "schema_version": 0,
        "attributes": {
            "escalation_chain_id": "",
            "id": id_,
            "integration_id": integration_id,
            "msteams": [],
            "position": position,
            "routing_regex": regex,
            "routing_type": "regex",
            "slack": [],
            "telegram": [],
        },
        "sensitive_attributes": [],
        "private": "bnVsbA==",
        "dependencies": ["grafana_oncall_integration.payments"],
    }
    return out


STACK = "prod"
PROJECT = "oncall-old"
PROVIDER_URN = f"urn:pulumi:{STACK}::{PROJECT}::pulumi:providers:grafana::default_1_6_1"
PROVIDER_ID = "4b1c9e2e-0f1a-4a43-9d3b-7a0c1f2e3d4b"
STACK_URN = f"urn:pulumi:{STACK}::{PROJECT}::pulumi:pulumi:Stack::{PROJECT}-{STACK}"


def urn(type_: str, name: str, parent_type: str | None = None) -> str:
    qualified = f"{parent_type}${type_}" if parent_type else type_
    return f"urn:pulumi:{STACK}::{PROJECT}::{qualified}::{name}"


def pulumi_export(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "version": 3,
        "deployment": {
            "manifest": {
                "time": "2026-11-30T10:00:00.000000000Z",
                # The CLI's check of the manifest: the sha256 of its version.
                "magic": hashlib.sha256(b"v3.260.0").hexdigest(),
                "version": "v3.260.0",
            },
            "resources": [
                {
                    "urn": STACK_URN,
                    "custom": False,
                    "type": "pulumi:pulumi:Stack",
                    "created": "2026-11-30T10:00:00.000000000Z",
                    "modified": "2026-11-30T10:00:00.000000000Z",
                },
                {
                    "urn": PROVIDER_URN,
                    "custom": True,
                    "id": PROVIDER_ID,
                    "type": "pulumi:providers:grafana",
                    "inputs": {
                        "__internal": {"pluginDownloadURL": "github://api.github.com/pulumiverse"},
                        "version": "1.6.1",
                    },
                    "outputs": {"version": "1.6.1"},
                    "parent": STACK_URN,
                    "created": "2026-11-30T10:00:00.000000000Z",
                    "modified": "2026-11-30T10:00:00.000000000Z",
                },
                *resources,
            ],
        },
    }


def pulumi_resource(
    type_: str,
    name: str,
    id_: str,
    props: dict[str, Any],
    parent: str = STACK_URN,
    parent_type: str | None = None,
    dependencies: list[str] | None = None,
) -> dict[str, Any]:
    return {
        "urn": urn(type_, name, parent_type),
        "custom": True,
        "id": id_,
        "type": type_,
        "inputs": {"__defaults": [], **props},
        "outputs": {"id": id_, **props},
        "parent": parent,
        "dependencies": dependencies or [],
        "provider": f"{PROVIDER_URN}::{PROVIDER_ID}",
        "propertyDependencies": {k: [] for k in props},
        "created": "2026-11-30T10:00:00.000000000Z",
        "modified": "2026-11-30T10:00:00.000000000Z",
    }


def pulumi_component(type_: str, name: str) -> dict[str, Any]:
    return {"urn": urn(type_, name), "custom": False, "type": type_, "parent": STACK_URN}
