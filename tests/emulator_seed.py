"""Tokens and seed data of the shared test emulator, importable from any test module."""

from __future__ import annotations

from typing import Any

TOKEN = "test-token"
VIEWER_TOKEN = "viewer-token"

TEAM_PLATFORM = "TTEAMPLATFORM"
TEAM_DATABASE = "TTEAMDATABASE"
CHAIN_DEFAULT = "FCHAINDEFAULT"
CHAIN_URGENT = "FCHAINURGENT1"

SEED: dict[str, Any] = {
    "teams": [
        {"id": TEAM_PLATFORM, "name": "platform"},
        {"id": TEAM_DATABASE, "name": "database"},
    ],
    "escalation_chains": [
        {"id": CHAIN_DEFAULT, "name": "default", "team_id": None},
        {"id": CHAIN_URGENT, "name": "urgent", "team_id": None},
    ],
}

# Flags of the shared emulator besides the seed and the tokens.
EMULATOR_ARGS: tuple[str, ...] = ("--slack-connected",)

# The Cloud-flavoured emulator: a Grafana stack, its service accounts and an API key.
GRAFANA_STACK = "https://ours.grafana.net"
SA_TOKEN = "glsa_editor_9d3e51a7"
SA_TOKEN_ROTATED = "glsa_rotated_42c8f0be"
SA_VIEWER = "glsa_viewer_61b2d9"
CLOUD_API_KEY = "cloud-api-key-0b7d"
