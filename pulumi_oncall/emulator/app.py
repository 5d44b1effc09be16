"""The Flask app: the gates every request goes through, the public API's blueprints
(one per resource), and the admin API's."""

from __future__ import annotations

from flask import Flask

from . import admin, api_escalation_chains, api_integrations, api_routes, api_teams, gates
from .state import EmulatorState
from .web import STATE_KEY

BLUEPRINTS = (
    api_integrations.blueprint,
    api_teams.blueprint,
    api_escalation_chains.blueprint,
    api_routes.blueprint,
    admin.blueprint,
)


def create_app(state: EmulatorState) -> Flask:
    app = Flask("pulumi_oncall.emulator")
    app.extensions[STATE_KEY] = state
    # Trailing slash optional everywhere, answered without redirects. Set before the
    # blueprints add their rules, which take it from the map.
    app.url_map.strict_slashes = False
    gates.install(app)
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    return app
