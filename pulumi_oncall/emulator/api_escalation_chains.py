"""`/api/v1/escalation_chains/` (read only here: chains are seeded by the admin API)."""

from __future__ import annotations

from flask import Blueprint, Response, request

from .tables import DEFAULT_PAGE_SIZE
from .web import API_PREFIX, Pagination, json_response, state

blueprint = Blueprint("escalation_chains", __name__, url_prefix=f"{API_PREFIX}/escalation_chains")
PAGES = Pagination(DEFAULT_PAGE_SIZE, lenient_pages=True)


@blueprint.get("/")
def list_escalation_chains() -> Response:
    chains = state().store.list_chains(request.args.get("name"))
    return json_response(PAGES.page(chains, lambda c: c))
