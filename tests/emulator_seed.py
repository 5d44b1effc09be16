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
