"""`/api/v1/integrations/`."""

from __future__ import annotations

from flask import Blueprint, Response, request

from . import integrations
from .errors import ServerCrash
from .tables import DEFAULT_PAGE_SIZE
from .web import API_PREFIX, Pagination, json_response, no_content, request_body, state, write

blueprint = Blueprint("integrations", __name__, url_prefix=f"{API_PREFIX}/integrations")
PAGES = Pagination(DEFAULT_PAGE_SIZE, lenient_pages=True)


@blueprint.get("/")
def list_integrations() -> Response:
    if "team_id" in request.args:
        raise ServerCrash()  # as the real server does
    ctx = state().context()
    records = ctx.store.list_integrations(request.args.get("name"))
    return json_response(PAGES.page(records, lambda r: integrations.render(r, ctx)))


@blueprint.post("/")
def create_integration() -> Response:
    body = request_body()
    ctx = state().context()
    with write():
        rec = integrations.create(body, ctx)
    return json_response(integrations.render(rec, ctx), 201)


@blueprint.get("/<integration_id>/")
def get_integration(integration_id: str) -> Response:
    ctx = state().context()
    return json_response(integrations.render(integrations.get(integration_id, ctx), ctx))


@blueprint.route("/<integration_id>/", methods=["PUT", "PATCH"])
def update_integration(integration_id: str) -> Response:
    ctx = state().context()
    with write():
        rec = integrations.get(integration_id, ctx)
        rec = integrations.update(rec, request_body(), ctx)
    return json_response(integrations.render(rec, ctx))


@blueprint.delete("/<integration_id>/")
def delete_integration(integration_id: str) -> Response:
    ctx = state().context()
    with write():
        integrations.delete(integrations.get(integration_id, ctx), ctx)
    return no_content()
