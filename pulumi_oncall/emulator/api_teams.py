"""`/api/v1/teams/` (read only: teams are made in Grafana, here by the admin API)."""

from __future__ import annotations

from flask import Blueprint, Response, request

from .tables import DEFAULT_PAGE_SIZE
from .web import API_PREFIX, Pagination, json_response, state

blueprint = Blueprint("teams", __name__, url_prefix=f"{API_PREFIX}/teams")
PAGES = Pagination(DEFAULT_PAGE_SIZE, lenient_pages=True)


@blueprint.get("/")
def list_teams() -> Response:
    teams = state().store.list_teams(request.args.get("name"))
    return json_response(PAGES.page(teams, lambda t: {**t, "email": None, "avatar_url": None}))
