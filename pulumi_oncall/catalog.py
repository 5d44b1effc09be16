"""What exists on one OnCall, as far as one process needs to know: teams and
escalation chains (listed once), and integrations read in bulk.

Bulk reads follow a rent-or-buy rule. The first read takes page 1 of the list (one
call, which also tells the organisation's size P in pages). A read that the pages
taken so far lack costs one GET, until such GETs add up to the pages still unlisted;
then the rest of the list is taken and serves every later read. So a refresh never
costs much more than twice the cheaper of "one GET each" and "list everything": a
5-integration stack in an org of 2,000 pays 1 + 5 calls, a 500-integration stack in
an org of 500 pays at most 1 + 4 + 4. An id the full list lacks is confirmed with
one GET before it is reported gone, since a list taken while others create or delete
can skip items. The list serves each id at most once: a second read of the same id
is a GET, so that a change made after the list was taken (a delete out of band
between two reads) shows as it would with one GET each. A write made by this process
invalidates its entry, and the list is dropped after a minute, so that it only ever
serves the operation that took it.
"""

from __future__ import annotations

import itertools
import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .client import PAGE_SIZE, JSONObject, OnCallClient
from .exceptions import NotFoundError


class _Listed:
    """A list fetched on first use and shared by threads, for at most `max_age` seconds."""

    def __init__(self, fetch: Callable[[], list[JSONObject]], max_age: float = 60.0) -> None:
        self._fetch = fetch
        self._max_age = max_age
        self._lock = threading.Lock()
        self._items: list[JSONObject] | None = None
        self._taken = 0.0

    def get(self) -> list[JSONObject]:
        with self._lock:
            if self._items is None or time.monotonic() - self._taken > self._max_age:
                self._items = self._fetch()
                self._taken = time.monotonic()
            return self._items


class IntegrationReads:
    """Reads of integrations by id, served from the list when that is cheaper."""

    def __init__(
        self, client: OnCallClient, perpage: int = PAGE_SIZE, max_age: float = 60.0
    ) -> None:
        self._client = client
        self._perpage = perpage
        self._max_age = max_age
        self._lock = threading.Lock()
        # Only one thread lists at a time; the others wait for its pages.
        self._listing = threading.Lock()
        # Orders what was learnt: a page requested after a write is fresher than it.
        self._clock = itertools.count()
        self._reset()

    def _reset(self) -> None:
        self._items: dict[str, JSONObject] = {}
        # When this process last wrote each integration, on the clock above.
        self._written: dict[str, int] = {}
        self._gone: set[str] = set()
        # Served from the list already: the next read of these asks the server.
        self._served: set[str] = set()
        self._pages_taken: set[int] = set()
        self._total_pages: int | None = None
        self._gets = 0
        self._started = time.monotonic()

    @property
    def _complete(self) -> bool:
        return self._total_pages is not None and len(self._pages_taken) >= self._total_pages

    def get(self, integration_id: str) -> JSONObject:
        """The integration, or NotFoundError when it is gone."""
        with self._lock:
            if time.monotonic() - self._started > self._max_age:
                self._reset()
            if integration_id in self._gone:
                raise NotFoundError(f"integration {integration_id} not found")
            first = self._total_pages is None
            again = integration_id in self._served
        if again:
            # The list is only as fresh as when it was taken: ask again.
            return self._get_one(integration_id)
        if first:
            self._take_pages([1])
        with self._lock:
            served = self._serve(integration_id)
            if served is not None:
                return served
            if integration_id in self._gone:
                raise NotFoundError(f"integration {integration_id} not found")
            unlisted = (self._total_pages or 1) - len(self._pages_taken)
            rent = self._complete or self._gets < unlisted
            if rent:
                self._gets += 1
        if not rent:
            self._take_rest()
            with self._lock:
                served = self._serve(integration_id)
                if served is not None:
                    return served
        # Not listed (or not worth listing yet): one GET tells.
        return self._get_one(integration_id)

    def _serve(self, integration_id: str) -> JSONObject | None:
        """Hand out a listed entry once; the caller holds the lock."""
        item = self._items.pop(integration_id, None)
        if item is not None:
            self._served.add(integration_id)
        return item

    def written(self, integration_id: str) -> None:
        """This process changed it: the next read asks the server again."""
        with self._lock:
            self._items.pop(integration_id, None)
            self._gone.discard(integration_id)
            self._written[integration_id] = next(self._clock)

    def forget(self, integration_id: str) -> None:
        """It is gone (deleted by this process, or answered 404)."""
        with self._lock:
            self._items.pop(integration_id, None)
            self._gone.add(integration_id)

    def _get_one(self, integration_id: str) -> JSONObject:
        try:
            return self._client.get_integration(integration_id)
        except NotFoundError:
            self.forget(integration_id)
            raise

    def _take_rest(self) -> None:
        with self._lock:
            total = self._total_pages or 1
            pages = [p for p in range(1, total + 1) if p not in self._pages_taken]
        self._take_pages(pages)

    def _take_pages(self, pages: list[int]) -> None:
        with self._listing:
            for page in pages:
                with self._lock:
                    if page in self._pages_taken:
                        continue
                    asked = next(self._clock)
                data = self._client.integrations_page(page, self._perpage)
                results: list[JSONObject] = data.get("results") or []
                count = data.get("count")
                total = data.get("total_pages")
                if not isinstance(total, int):
                    total = (
                        max(1, math.ceil(count / self._perpage)) if isinstance(count, int) else 1
                    )
                with self._lock:
                    self._total_pages = total
                    self._pages_taken.add(page)
                    for item in results:
                        fresh = self._written.get(item["id"], -1) < asked
                        known = item["id"] in self._gone or item["id"] in self._served
                        if fresh and not known:
                            self._items[item["id"]] = item


class Catalog:
    """One per client: what this process has learnt of that OnCall."""

    def __init__(self, client: OnCallClient) -> None:
        self.client = client
        self.teams = _Listed(client.list_teams)
        self.escalation_chains = _Listed(client.list_escalation_chains)
        self.integrations = IntegrationReads(client)


_catalogs: dict[int, Catalog] = {}
_catalogs_lock = threading.Lock()


def catalog(client: OnCallClient) -> Catalog:
    with _catalogs_lock:
        found = _catalogs.get(id(client))
        if found is None or found.client is not client:
            found = _catalogs[id(client)] = Catalog(client)
        return found


def describe(items: Sequence[Mapping[str, Any]], limit: int = 8) -> str:
    """`'name' (id)` for up to `limit` items, for error messages."""
    shown = [f"{i.get('name')!r} ({i.get('id')})" for i in items[:limit]]
    more = len(items) - limit
    return ", ".join(shown) + (f", and {more} more" if more > 0 else "") if shown else "none"
