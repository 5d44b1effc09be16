"""What exists on one OnCall, as far as one process needs to know: teams and
escalation chains (listed once), and integrations read in bulk. Each
`connection.Connection` holds one of each.

Bulk reads follow a rent-or-buy rule. The first read takes page 1 of the list (one
call, which also tells the organisation's size P in pages). A read that the pages
taken so far lack costs one GET, until one more GET would make such GETs as many as
the pages still unlisted; then the rest of the list is taken, which serves every
later read. So a refresh never costs more than twice the cheaper of "one GET each"
and "list everything": a 5-integration stack in an org of 2,000 pays 1 + 5 calls, a
500-integration stack in an org of 500 pays at most 1 + 3 + 4, and one in an org of
two pages lists both and makes no GET. When page 1 leaves one page unlisted, the
rest is taken at once: the first miss would take it anyway, so this costs one call
at most, and only when no read misses.

The rest is taken in the background, a page at a time and in order, and each page
serves the reads waiting for it as soon as it comes, while the next is on its way:
a read waits for the page that holds its id, not for the whole list (nine pages at
1,000 integrations). In order, since the routes of one integration can straddle two
pages. If the background listing fails, a read that needs it takes the rest itself,
and reports what fails then.

An id the full list lacks is confirmed with one GET before it is reported gone,
since a list taken while others create or delete can skip items. The list serves
each id at most once: a second read of the same id is a GET, so that a change made
after the list was taken (a delete out of band between two reads) shows as it would
with one GET each. A write made by this process invalidates its entry, and the list
is dropped after a minute, so that it only ever serves the operation that took it.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ._client import PAGE_SIZE, JSONObject, OnCallClient
from ._exceptions import NotFoundError


class Listed:
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


class _BulkReads:
    """Reads by key, served from the organisation's list when that is cheaper."""

    what = "item"

    def __init__(
        self, client: OnCallClient, perpage: int = PAGE_SIZE, max_age: float = 60.0
    ) -> None:
        self._client = client
        self._perpage = perpage
        self._max_age = max_age
        self._lock = threading.Lock()
        # Told each time a page is taken, and when the background listing ends.
        self._changed = threading.Condition(self._lock)
        # Only one thread lists at a time; the others wait for its pages.
        self._listing = threading.Lock()
        # Orders what was learnt: a page requested after a write is fresher than it.
        self._clock = itertools.count()
        self._generation = 0
        self._reset()

    def _reset(self) -> None:
        # A listing still under way for the old entries drops what it brings.
        self._generation += 1
        self._items: dict[str, Any] = {}
        # When this process last wrote each key, on the clock above.
        self._written: dict[str, int] = {}
        self._gone: set[str] = set()
        # Served from the list already: the next read of these asks the server.
        self._served: set[str] = set()
        self._pages_taken: set[int] = set()
        self._total_pages: int | None = None
        self._gets = 0
        self._lister: threading.Thread | None = None  # taking the rest in the background
        self._started = time.monotonic()

    # What the kinds of list differ in.
    def _page(self, page: int) -> JSONObject:
        raise NotImplementedError

    def _one(self, key: str) -> Any:
        raise NotImplementedError

    def _collect(self, results: list[JSONObject], asked: int) -> None:
        """Take a page's items into `_items`; the caller holds the lock."""
        raise NotImplementedError

    def _usable(self, key: str, asked: int) -> bool:
        fresh = self._written.get(key, -1) < asked
        return fresh and key not in self._gone and key not in self._served

    @property
    def _complete(self) -> bool:
        return self._total_pages is not None and len(self._pages_taken) >= self._total_pages

    @property
    def _unlisted(self) -> int:
        """Pages not taken yet; the caller holds the lock."""
        return (self._total_pages or 1) - len(self._pages_taken)

    def get(self, key: str) -> Any:
        """The item, or NotFoundError when it is gone."""
        with self._lock:
            if time.monotonic() - self._started > self._max_age:
                self._reset()
            if key in self._gone:
                raise NotFoundError(f"{self.what} {key} not found")
            first = self._total_pages is None
            again = key in self._served
            generation = self._generation
        if again:
            # The list is only as fresh as when it was taken: ask again.
            return self._get_one(key)
        if first:
            self._take_pages([1], generation)
        with self._lock:
            if first and self._unlisted == 1:
                self._list_rest_behind()
            served = self._serve(key)
            if served is not None:
                return served
            if key in self._gone:
                raise NotFoundError(f"{self.what} {key} not found")
            rent = self._complete or (self._lister is None and self._gets + 1 < self._unlisted)
            if rent:
                self._gets += 1
        if not rent:
            served = self._from_rest(key)
            if served is not None:
                return served
        # Not listed (or not worth listing yet): one GET tells.
        return self._get_one(key)

    def _serve(self, key: str) -> Any:
        """Hand out a listed entry once; the caller holds the lock."""
        item = self._items.pop(key, None)
        if item is not None:
            self._served.add(key)
        return item

    def written(self, key: str) -> None:
        """This process changed it: the next read asks the server again."""
        with self._lock:
            self._items.pop(key, None)
            self._gone.discard(key)
            self._written[key] = next(self._clock)

    def forget(self, key: str) -> None:
        """It is gone (deleted by this process, or answered 404)."""
        with self._lock:
            self._items.pop(key, None)
            self._gone.add(key)

    def _get_one(self, key: str) -> Any:
        try:
            return self._one(key)
        except NotFoundError:
            self.forget(key)
            raise

    def _from_rest(self, key: str) -> Any:
        """The entry from the rest of the list, once a page brings it; None if none does."""
        with self._lock:
            self._list_rest_behind()
            while True:
                served = self._serve(key)
                if served is not None or self._complete:
                    return served
                if self._lister is None:
                    break
                self._changed.wait()
        # The background listing failed, or its list was dropped: take the rest here, so
        # that this read reports what fails.
        self._take_rest()
        with self._lock:
            return self._serve(key)

    def _list_rest_behind(self) -> None:
        """Start taking the rest in the background; the caller holds the lock."""
        if self._lister is not None or self._complete:
            return
        self._lister = threading.Thread(
            target=self._list_rest, args=(self._generation,), name="list-rest", daemon=True
        )
        self._lister.start()

    def _list_rest(self, generation: int) -> None:
        try:
            # A failure here is reported by the read that needs the page.
            with contextlib.suppress(Exception):
                self._take_rest()
        finally:
            with self._lock:
                if self._generation == generation:
                    self._lister = None
                self._changed.notify_all()

    def _take_rest(self) -> None:
        with self._lock:
            total = self._total_pages or 1
            pages = [p for p in range(1, total + 1) if p not in self._pages_taken]
            generation = self._generation
        self._take_pages(pages, generation)

    def _take_pages(self, pages: list[int], generation: int) -> None:
        """Take `pages`, in order, for the list of `generation`: once the list is
        dropped, the pages chosen for it are neither asked for nor kept."""
        with self._listing:
            for page in pages:
                with self._lock:
                    if self._generation != generation:
                        return
                    if page in self._pages_taken:
                        continue
                    asked = next(self._clock)
                data = self._page(page)
                results: list[JSONObject] = data.get("results") or []
                count = data.get("count")
                total = data.get("total_pages")
                if not isinstance(total, int):
                    total = (
                        max(1, math.ceil(count / self._perpage)) if isinstance(count, int) else 1
                    )
                with self._lock:
                    if self._generation != generation:
                        return
                    self._total_pages = total
                    self._pages_taken.add(page)
                    self._collect(results, asked)
                    self._changed.notify_all()


class IntegrationReads(_BulkReads):
    """Reads of integrations by id."""

    what = "integration"

    def _page(self, page: int) -> JSONObject:
        return self._client.integrations_page(page, self._perpage)

    def _one(self, key: str) -> JSONObject:
        return self._client.get_integration(key)

    def _collect(self, results: list[JSONObject], asked: int) -> None:
        for item in results:
            if self._usable(item["id"], asked):
                self._items[item["id"]] = item


class RouteReads(_BulkReads):
    """Reads of one integration's routes (its default route last), by integration id.

    The organisation's list groups routes by integration, each group ending with the
    integration's default route: a group is served only once that route was seen.
    """

    what = "routes of integration"

    def _reset(self) -> None:
        super()._reset()
        self._partial: dict[str, list[JSONObject]] = {}

    def _page(self, page: int) -> JSONObject:
        return self._client.routes_page(page, self._perpage)

    def _one(self, key: str) -> list[JSONObject]:
        return self._client.list_routes(key)

    def _collect(self, results: list[JSONObject], asked: int) -> None:
        for item in results:
            key = str(item.get("integration_id"))
            group = self._partial.setdefault(key, [])
            group.append(item)
            if item.get("is_the_last_route"):
                del self._partial[key]
                if self._usable(key, asked):
                    self._items[key] = group


def describe(items: Sequence[Mapping[str, Any]], limit: int = 8) -> str:
    """`'name' (id)` for up to `limit` items, for error messages."""
    shown = [f"{i.get('name')!r} ({i.get('id')})" for i in items[:limit]]
    more = len(items) - limit
    return ", ".join(shown) + (f", and {more} more" if more > 0 else "") if shown else "none"
