"""What the blueprints share: the state of the app, bodies read as DRF reads them,
JSON and HTML answers, pagination, and write transactions."""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, cast
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

from flask import Response, current_app, g, request

from .errors import ApiError, ServerCrash, detail

if TYPE_CHECKING:
    from .state import EmulatorState

T = TypeVar("T")

API_PREFIX = "/api/v1"
# Where create_app keeps the state, in app.extensions.
STATE_KEY = "oncall_emulator"


def state() -> EmulatorState:
    """The state of the app serving this request."""
    return cast("EmulatorState", current_app.extensions[STATE_KEY])


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json", headers=headers)


def html_response(body: str, status: int) -> Response:
    return Response(body, status=status, mimetype="text/html")


def no_content() -> Response:
    return Response(status=204)


@contextmanager
def write() -> Iterator[None]:
    """One transaction around a write's checks and the write itself."""
    try:
        with state().store.transaction():
            yield
    except sqlite3.IntegrityError as exc:
        # What a real database does with, e.g., a name over 150 characters.
        raise ServerCrash() from exc


def _strict_constant(token: str) -> Any:
    # DRF's JSONParser refuses NaN and the infinities in these words.
    raise ValueError(f"Out of range float values are not JSON compliant: {token!r}")


def parse_json(raw: bytes) -> Any:
    """A JSON body as DRF's JSONParser reads it, or the 400 it answers.

    Python's json gives up on a deeply nested body with RecursionError, which DRF
    does not catch (the real server answers an HTML 500): here it is a 400 like
    any other parse error, with Python's message.
    """
    try:
        return json.loads(raw, parse_constant=_strict_constant)
    except (ValueError, RecursionError) as exc:
        raise detail(f"JSON parse error - {exc}") from exc


def request_body() -> Any:
    """The decoded JSON body, parsed the way DRF does; no body reads as {}."""
    raw = request.get_data(cache=True)
    if not raw:
        return {}
    mimetype = request.mimetype
    if mimetype != "application/json" and not mimetype.endswith("+json"):
        raise ApiError(
            415, {"detail": f'Unsupported media type "{request.content_type}" in request.'}
        )
    return parse_json(raw)


def _page_url(page: int | None) -> str:
    """This request's URL on another page, like DRF's replace_query_param."""
    parts = urlsplit(request.full_path)
    query = parse_qs(parts.query, keep_blank_values=True)
    if page is None:
        query.pop("page", None)
    else:
        query["page"] = [str(page)]
    path = urlunsplit(("", "", parts.path, urlencode(sorted(query.items()), doseq=True), ""))
    return str(g.public_url) + path


def _int_or(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


@dataclass(frozen=True)
class Pagination:
    """How one list endpoint pages (OnCall's PathPrefixedPagePagination and its sizes).

    `max_size` caps `perpage`. `lenient_pages` keeps the integrations list as it has
    always been here: `page=last` is the last page, and so is a page below 1.
    """

    size: int
    max_size: int | None = None
    lenient_pages: bool = False

    def page(self, items: Sequence[T], render: Callable[[T], Any]) -> dict[str, Any]:
        per_page = _int_or(request.args.get("perpage"), self.size)
        if per_page < 1:
            per_page = self.size
        if self.max_size is not None:
            per_page = min(per_page, self.max_size)
        total_pages = max(1, math.ceil(len(items) / per_page))
        raw_page = request.args.get("page", "1")
        if self.lenient_pages:
            page = total_pages if raw_page == "last" else _int_or(raw_page, 1)
            if page < 1:
                page = total_pages
        else:
            page = max(1, _int_or(raw_page, 1))
        # A page past the end is the last page, not a 404.
        page = min(page, total_pages)
        start = (page - 1) * per_page
        return {
            "count": len(items),
            "next": _page_url(page + 1) if page < total_pages else None,
            "previous": _page_url(None if page == 2 else page - 1) if page > 1 else None,
            "results": [render(item) for item in items[start : start + per_page]],
            "page_size": per_page,
            "current_page_number": page,
            "total_pages": total_pages,
        }
