"""Reads served from the list of integrations: request counts and exactness.

The engine reads up to four resources at once during a refresh; so do these tests.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from emulator_seed import TOKEN

from pulumi_oncall._catalog import IntegrationReads
from pulumi_oncall._client import OnCallClient, RetrySettings
from pulumi_oncall._provider import IntegrationProvider

_names = itertools.count()


def _one_get_provider() -> type[IntegrationProvider]:
    """The floor benchmark's provider that reads with one GET each (its baseline)."""
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_providers.py"
    spec = importlib.util.spec_from_file_location("bench_providers", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    found: type[IntegrationProvider] = module.OneGetProvider
    return found


def fresh_provider(emulator: Any, bulk: bool = True) -> IntegrationProvider:
    """A provider on a connection of its own, so nothing it lists is shared."""
    name = f"c{next(_names)}"
    provider = IntegrationProvider() if bulk else _one_get_provider()()
    connections = json.dumps({name: {"url": emulator.url, "token": TOKEN}})
    values = {"oncall:connections": connections}
    provider.configure_from(values.get, {})
    provider.connection_name = name  # type: ignore[attr-defined]
    return provider


def populate(emulator: Any, count: int) -> list[dict[str, Any]]:
    emulator.admin("PUT", "faults", {"rate_limit": 0})
    with emulator.client() as http, ThreadPoolExecutor(8) as pool:

        def create(i: int) -> dict[str, Any]:
            body = {"type": "webhook", "name": f"org-{i:05d}", "description_short": str(i)}
            response = http.post("/api/v1/integrations/", json=body)
            response.raise_for_status()
            result: dict[str, Any] = response.json()
            return result

        created = list(pool.map(create, range(count)))
    emulator.admin("DELETE", "requests")
    return created


def refresh(provider: IntegrationProvider, integrations: list[dict[str, Any]]) -> list[Any]:
    """Read each as the engine would, with the state's props (name and description)."""
    connection = provider.connection_name  # type: ignore[attr-defined]

    def read(item: dict[str, Any]) -> Any:
        props = {
            "type": "webhook",
            "name": item["name"],
            "description_short": item.get("description_short"),
            "connection": connection,
        }
        return provider.read(item["id"], props)

    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(read, integrations))


def api_calls(emulator: Any) -> list[dict[str, Any]]:
    return [
        r for r in emulator.admin("GET", "requests")["requests"] if r["path"].startswith("/api")
    ]


def test_refresh_of_500_in_an_org_of_500_takes_at_most_8_calls(emulator: Any) -> None:
    org = populate(emulator, 500)
    results = refresh(fresh_provider(emulator), org)
    assert [r.id for r in results] == [i["id"] for i in org]
    assert [r.outs["name"] for r in results] == [i["name"] for i in org]
    calls = api_calls(emulator)
    # Page 1, then at most three GETs before the fourth miss takes pages 2 to 5.
    assert len(calls) <= 8, [(c["method"], c["path"], c["query"]) for c in calls]
    assert sum(1 for c in calls if c["query"]) == 5
    assert all(c["status"] == 200 for c in calls)


def test_refresh_of_an_org_of_two_pages_lists_both_and_gets_none(emulator: Any) -> None:
    org = populate(emulator, 200)
    results = refresh(fresh_provider(emulator), org)
    assert [r.id for r in results] == [i["id"] for i in org]
    calls = [(c["method"], c["path"], c["query"]) for c in api_calls(emulator)]
    assert sorted(calls) == [
        ("GET", "/api/v1/integrations/", "page=1&perpage=100"),
        ("GET", "/api/v1/integrations/", "page=2&perpage=100"),
    ]


def test_refresh_of_5_in_an_org_of_2000_takes_at_most_10_calls(emulator: Any) -> None:
    org = populate(emulator, 2000)
    stack = org[::400]
    results = refresh(fresh_provider(emulator), stack)
    assert [r.id for r in results] == [i["id"] for i in stack]
    assert len(api_calls(emulator)) <= 10


def test_one_get_per_read_without_bulk_reads(emulator: Any) -> None:
    org = populate(emulator, 30)
    refresh(fresh_provider(emulator, bulk=False), org)
    calls = api_calls(emulator)
    assert len(calls) == 30 and {c["query"] for c in calls} == {""}


def test_drift_and_out_of_band_changes_stay_exact(emulator: Any) -> None:
    org = populate(emulator, 150)  # two pages
    assert all(r.id for r in refresh(fresh_provider(emulator), org[:120]))
    with emulator.client() as http:
        http.delete(f"/api/v1/integrations/{org[130]['id']}/").raise_for_status()
        http.put(
            f"/api/v1/integrations/{org[140]['id']}/", json={"description_short": "edited"}
        ).raise_for_status()
        late = http.post("/api/v1/integrations/", json={"type": "webhook", "name": "late"})
        late.raise_for_status()
    # A new provider process, as the next `pulumi refresh` runs one.
    gone, edited, new = refresh(fresh_provider(emulator), [org[130], org[140], late.json()])
    assert gone.id is None
    assert edited.outs["description_short"] == "edited"
    assert edited.inputs["description_short"] == "edited"
    assert new.id == late.json()["id"] and new.outs["name"] == "late"


def listing_done() -> None:
    for thread in threading.enumerate():
        if thread.name == "list-rest":
            thread.join(30)
            assert not thread.is_alive()


def test_the_last_page_is_taken_ahead_while_page_1_serves(emulator: Any) -> None:
    org = populate(emulator, 150)
    stack = org[:3]  # all on page 1
    results = refresh(fresh_provider(emulator), stack)
    assert [r.id for r in results] == [i["id"] for i in stack]
    listing_done()
    calls = [(c["method"], c["query"]) for c in api_calls(emulator)]
    # One call more than page 1 alone, the most that taking it ahead can cost.
    assert sorted(calls) == [("GET", "page=1&perpage=100"), ("GET", "page=2&perpage=100")]


def test_a_page_that_fails_ahead_is_taken_by_the_read_that_needs_it(emulator: Any) -> None:
    org = populate(emulator, 150)
    client = OnCallClient(emulator.url, TOKEN, retry=RetrySettings(max_attempts=1))
    reads = IntegrationReads(client)
    # What the first read does, before it sends for the last page.
    reads._take_pages([1], reads._generation)
    emulator.admin("PUT", "faults", {"fail_rate": 1.0, "fail_statuses": [500]})
    with reads._lock:
        reads._list_rest_behind()
    listing_done()  # it failed, and said nothing
    assert reads._pages_taken == {1}
    emulator.admin("PUT", "faults", {"fail_rate": 0.0})
    emulator.admin("DELETE", "requests")
    assert reads.get(org[140]["id"])["id"] == org[140]["id"]
    assert reads.get(org[0]["id"])["id"] == org[0]["id"]
    assert [c["query"] for c in api_calls(emulator)] == ["page=2&perpage=100"]


def test_each_page_of_the_rest_serves_its_reads_as_it_comes(emulator: Any) -> None:
    populate(emulator, 50)
    client = OnCallClient(emulator.url, TOKEN)
    pages = {k: client.integrations_page(k, 10)["results"] for k in range(1, 6)}
    emulator.admin("DELETE", "requests")
    held = threading.Event()

    class HeldAtPage3(IntegrationReads):
        def _page(self, page: int) -> dict[str, Any]:
            if page == 3:
                assert held.wait(30)
            return super()._page(page)

    reads = HeldAtPage3(client, perpage=10)
    assert reads.get(pages[1][0]["id"])["id"] == pages[1][0]["id"]
    for item in pages[4][:3]:  # four pages unlisted: three GETs
        assert reads.get(item["id"])["id"] == item["id"]
    # The fourth miss starts the rest, and page 2 serves it while page 3 is on its way.
    assert reads.get(pages[2][5]["id"])["id"] == pages[2][5]["id"]
    assert reads._pages_taken == {1, 2}
    held.set()
    assert reads.get(pages[5][9]["id"])["id"] == pages[5][9]["id"]
    listing_done()
    calls = [(c["method"], c["query"]) for c in api_calls(emulator)]
    assert calls == [
        ("GET", "page=1&perpage=10"),
        *[("GET", "")] * 3,
        *[("GET", f"page={k}&perpage=10") for k in range(2, 6)],
    ]


def test_an_id_the_list_lacks_is_confirmed_by_one_get(emulator: Any) -> None:
    org = populate(emulator, 20)
    provider = fresh_provider(emulator)
    refresh(provider, org[:1])  # page 1 taken: the whole org is listed
    emulator.admin("DELETE", "requests")
    assert refresh(provider, org[1:])[-1].id == org[-1]["id"]
    assert api_calls(emulator) == []
    (result,) = refresh(provider, [{"id": "CNOTINTHELIST", "name": "x"}])
    assert result.id is None
    assert [(c["method"], c["status"]) for c in api_calls(emulator)] == [("GET", 404)]


def test_a_second_read_in_one_process_sees_out_of_band_changes(emulator: Any) -> None:
    org = populate(emulator, 20)
    doomed, edited = org[0], org[1]
    provider = fresh_provider(emulator)
    first = refresh(provider, [doomed, edited])
    assert [r.id for r in first] == [doomed["id"], edited["id"]]
    calls = api_calls(emulator)
    assert [(c["method"], c["path"]) for c in calls] == [("GET", "/api/v1/integrations/")]
    with emulator.client() as http:
        http.delete(f"/api/v1/integrations/{doomed['id']}/").raise_for_status()
        http.put(
            f"/api/v1/integrations/{edited['id']}/", json={"description_short": "edited"}
        ).raise_for_status()
    emulator.admin("DELETE", "requests")
    # The same process reads both again: the list taken before must not answer.
    gone, changed = refresh(provider, [doomed, edited])
    assert gone.id is None
    assert changed.id == edited["id"] and changed.outs["description_short"] == "edited"
    assert sorted((c["method"], c["path"], c["status"]) for c in api_calls(emulator)) == sorted(
        [
            ("GET", f"/api/v1/integrations/{doomed['id']}/", 404),
            ("GET", f"/api/v1/integrations/{edited['id']}/", 200),
        ]
    )
    # Reported gone once, it stays gone without another call.
    (again,) = refresh(provider, [doomed])
    assert again.id is None
    assert len(api_calls(emulator)) == 2


def test_a_refresh_of_200_integrations_with_three_routes_each_takes_few_calls(
    emulator: Any,
) -> None:
    integrations = populate(emulator, 200)
    declared: dict[str, list[dict[str, Any]]] = {}
    with emulator.client() as http, ThreadPoolExecutor(8) as pool:

        def add_routes(item: dict[str, Any]) -> None:
            routes = []
            for n in range(3):
                body = {
                    "integration_id": item["id"],
                    "routing_regex": f"{item['name']}-{n}",
                    "escalation_chain_id": None,
                }
                response = http.post("/api/v1/routes/", json=body)
                response.raise_for_status()
                routes.append({"id": response.json()["id"], "routing_regex": body["routing_regex"]})
            declared[item["id"]] = routes

        list(pool.map(add_routes, integrations))
    emulator.admin("DELETE", "requests")
    provider = fresh_provider(emulator)
    connection = provider.connection_name  # type: ignore[attr-defined]

    def read(item: dict[str, Any]) -> Any:
        props = {
            "type": "webhook",
            "name": item["name"],
            "connection": connection,
            "routes": declared[item["id"]],
        }
        return provider.read(item["id"], props)

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(read, integrations))
    calls = api_calls(emulator)
    # The two pages of integrations; of the 8 pages of routes, page 1, at most six
    # lists of one integration's routes, then the other seven pages.
    assert len(calls) <= 16, [c["path"] for c in calls]
    for item, result in zip(integrations, results, strict=True):
        assert result.outs["routes"] == declared[item["id"]]
