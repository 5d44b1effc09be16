"""`/api/v1/routes/`: the routes of integrations, their default routes among them."""

from __future__ import annotations

from flask import Blueprint, Response, request

from . import routes
from .tables import ROUTES_MAX_PAGE_SIZE, ROUTES_PAGE_SIZE
from .web import API_PREFIX, Pagination, json_response, no_content, request_body, state, write

blueprint = Blueprint("routes", __name__, url_prefix=f"{API_PREFIX}/routes")
PAGES = Pagination(ROUTES_PAGE_SIZE, max_size=ROUTES_MAX_PAGE_SIZE)


@blueprint.get("/")
def list_routes() -> Response:
    ctx = state().context()
    found = routes.find(
        ctx.store, request.args.get("integration_id"), request.args.get("routing_regex")
    )
    return json_response(PAGES.page(found, lambda r: routes.render(r, ctx.flavour)))


@blueprint.post("/")
def create_route() -> Response:
    body = request_body()
    ctx = state().context()
    with write():
        route, refusal = routes.create(body, ctx)
    # Answered after the commit: OnCall keeps a route whose position it then refuses.
    if refusal is not None:
        raise refusal
    return json_response(routes.render(route, ctx.flavour), 201)


@blueprint.get("/<route_id>/")
def get_route(route_id: str) -> Response:
    ctx = state().context()
    return json_response(routes.render(routes.get(route_id, ctx.store), ctx.flavour))


@blueprint.route("/<route_id>/", methods=["PUT", "PATCH"])
def update_route(route_id: str) -> Response:
    ctx = state().context()
    with write():
        route = routes.update(routes.get(route_id, ctx.store), request_body(), ctx)
    return json_response(routes.render(route, ctx.flavour))


@blueprint.delete("/<route_id>/")
def delete_route(route_id: str) -> Response:
    ctx = state().context()
    with write():
        routes.delete(routes.get(route_id, ctx.store), ctx)
    return no_content()
