"""Send one fixed sequence of Routes API requests to an OnCall and print the answers,
normalised, so that two servers' transcripts can be diffed line by line.

    export ONCALL_TOKEN=...            # the token, never a flag
    .venv/bin/python scripts/compare-routes.py --url http://127.0.0.1:18181 > real.txt
    .venv/bin/python scripts/compare-routes.py --url http://127.0.0.1:8080 > emulator.txt
    diff real.txt emulator.txt

Used to hold the emulator (`python -m pulumi_oncall.emulator`, oss flavour, Slack not
connected) against a real open-source engine (`/work/shared/real-oncall/
setup-real-oncall.sh`); not run by the test suite or CI. The sequence follows the
rows of `oncall-routes-behaviour.md`: create and its errors, positions, moves, updates,
the default route, backends, list filters and pages, deletes. It needs an
organisation with at least one escalation chain (the first one listed is used) and
creates its own integrations, named `compare-routes-*`, deleting them at the end (and
any left over by an interrupted run at the start).

Normalised: ids become <C1>, <R1>, ... in order of first appearance (the same on both
servers, since the requests are the same), the escalation chain <CHAIN>, the base URL
<URL>, this run's name suffix <RUN>; integration answers are cut to their
default_route; HTML answers print as <HTML>. A 429 is waited out (Retry-After) and the
request sent again, unprinted.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from typing import Any

import httpx

ID = re.compile(r"\b([CRFT])[A-Z0-9]{12}\b")
PREFIX = "compare-routes-"
# More routes than the largest page, to see what a larger perpage does.
MANY = 101


class Transcript:
    def __init__(self, url: str, token: str) -> None:
        self.url = url.rstrip("/")
        self.http = httpx.Client(
            base_url=self.url + "/api/v1",
            headers={"Authorization": token, "Content-Type": "application/json"},
            timeout=60,
        )
        self.ids: dict[str, str] = {}
        self.counts: dict[str, int] = {}
        self.step = 0
        # Makes this run's integration names unique; printed as <RUN>.
        self.run_id = str(int(time.time()))

    def placeholder(self, match: re.Match[str]) -> str:
        found = match.group(0)
        if found not in self.ids:
            prefix = match.group(1)
            self.counts[prefix] = self.counts.get(prefix, 0) + 1
            self.ids[found] = f"<{prefix}{self.counts[prefix]}>"
        return self.ids[found]

    def normal(self, text: str) -> str:
        text = text.replace(self.url, "<URL>").replace(self.run_id, "<RUN>")
        return ID.sub(self.placeholder, text)

    def send(self, method: str, path: str, body: Any = None, *, quiet: bool = False) -> Any:
        raw = json.dumps(body) if body is not None else None
        while True:
            response = self.http.request(method, path, content=raw)
            if response.status_code != 429:
                break
            time.sleep(int(response.headers.get("Retry-After", "5")) + 1)
        try:
            decoded: Any = response.json() if response.content else None
            shown = json.dumps(self.cut(path, decoded))
        except ValueError:
            decoded, shown = None, "<HTML>" if "<html" in response.text.lower() else "<TEXT>"
        if not quiet:
            self.step += 1
            sent = f" {raw}" if raw is not None else ""
            print(
                self.normal(f"#{self.step} {method} {path}{sent} -> {response.status_code} {shown}")
            )
        return decoded

    @staticmethod
    def cut(path: str, decoded: Any) -> Any:
        if (
            path.startswith("/integrations/")
            and isinstance(decoded, dict)
            and "default_route" in decoded
        ):
            return {"default_route": decoded["default_route"]}
        return decoded


def run(t: Transcript) -> None:
    chains = t.send("GET", "/escalation_chains/", quiet=True)["results"]
    if not chains:
        sys.exit("the organisation needs an escalation chain")
    chain = chains[0]["id"]
    t.ids[chain] = "<CHAIN>"
    for leftover in t.send("GET", "/integrations/?perpage=100", quiet=True)["results"]:
        if leftover["name"].startswith(PREFIX):
            t.send("DELETE", f"/integrations/{leftover['id']}/", quiet=True)

    a = t.send("POST", "/integrations/", {"type": "webhook", "name": f"{PREFIX}a-{t.run_id}"})
    b = t.send("POST", "/integrations/", {"type": "alertmanager", "name": f"{PREFIX}b-{t.run_id}"})
    ia, ib = a["id"], b["id"]
    da = a["default_route"]["id"]

    # The default route and the object
    t.send("GET", f"/routes/{da}/")
    t.send("GET", f"/routes/{da}")
    t.send("GET", "/routes/RNOTAROUTE123/")

    # Create: required fields and errors
    base = {"integration_id": ia, "escalation_chain_id": None}
    for body in [
        {"integration_id": ia, "routing_regex": "foo"},
        {"routing_regex": "foo", "escalation_chain_id": None},
        {"integration_id": "CNOSUCHINTEG1", "routing_regex": "foo", "escalation_chain_id": None},
        base,
        {**base, "routing_regex": ""},
        {**base, "routing_regex": "   "},
        {**base, "routing_regex": None},
        {**base, "routing_regex": "foo", "routing_type": "labels"},
        {**base, "routing_regex": "foo", "routing_type": "bogus"},
        {**base, "routing_regex": "foo", "routing_type": ""},
        {**base, "routing_regex": "x" * 1025},
        {**base, "routing_regex": "(unclosed"},
        {**base, "routing_regex": "{{ payload.x ", "routing_type": "jinja2"},
        {**base, "routing_regex": "{{ payload.x | nosuchfilter }}", "routing_type": "jinja2"},
        {**base, "routing_regex": "foo", "escalation_chain_id": "FNOSUCHCHAIN1"},
        {**base, "routing_regex": "foo", "slack": {"channel_id": "C0123456"}},
        {**base, "routing_regex": "foo", "slack": "notadict"},
        {**base, "routing_regex": "foo", "slack": None},
        {**base, "routing_regex": "foo", "slack": {"enabled": "maybe"}},
        {**base, "routing_regex": "foo", "telegram": {"id": "ZZZZ", "enabled": True}},
        {**base, "routing_regex": "foo", "telegram": "notadict"},
        {**base, "routing_regex": "foo", "email": None},
        {**base, "routing_regex": "foo", "position": "abc"},
        {**base, "routing_regex": "foo", "position": None},
        {**base, "routing_regex": "foo", "position": 1.5},
        {**base, "routing_regex": "foo", "manual_order": "maybe"},
        {"integration_id": ia, "routing_regex": "(", "routing_type": "bogus"},
        {"routing_regex": "(", "slack": {"channel_id": "C1"}},
        [],
        "text",
    ]:
        t.send("POST", "/routes/", body)
    t.send("GET", f"/routes/?integration_id={ia}")

    # Create: what is accepted, and positions
    r0 = t.send(
        "POST",
        "/routes/",
        {
            **base,
            "routing_regex": "  prod\n",
            "slack": {"channel_id": None, "enabled": True},
            "telegram": {"id": None, "enabled": True},
            "email": {"enabled": True},
            "webhook": {"id": 5, "enabled": "yes"},
            "msteams": {"id": "ignored", "enabled": True},
            "unknown_block": {"id": 1},
        },
    )
    t.send("POST", "/routes/", {**base, "routing_regex": "a", "escalation_chain_id": chain})
    t.send("POST", "/routes/", {**base, "routing_regex": "b", "escalation_chain_id": ""})
    t.send("POST", "/routes/", {**base, "routing_regex": "front", "position": 0})
    t.send("POST", "/routes/", {**base, "routing_regex": "gap", "position": 100})
    t.send("POST", "/routes/", {**base, "routing_regex": "after-gap"})
    t.send("POST", "/routes/", {**base, "routing_regex": "held", "position": 2})
    t.send("POST", "/routes/", {**base, "routing_regex": "minus-one", "position": -1})
    t.send("POST", "/routes/", {**base, "routing_regex": "minus-five", "position": -5})
    t.send("POST", "/routes/", {**base, "routing_regex": "huge", "position": 2147483648})
    t.send("POST", "/routes/", {**base, "routing_regex": "max", "position": 2147483647})
    t.send("POST", "/routes/", {**base, "routing_regex": "string", "position": "3"})
    t.send(
        "POST", "/routes/", {**base, "routing_regex": "swap", "position": 1, "manual_order": True}
    )
    t.send(
        "POST",
        "/routes/",
        {**base, "routing_regex": "swap-minus", "position": -1, "manual_order": True},
    )
    t.send("POST", "/routes/", {**base, "routing_regex": "{{ true }}", "routing_type": "jinja2"})
    listed = t.send("GET", f"/routes/?integration_id={ia}&perpage=100")
    ids = {r["routing_regex"]: r["id"] for r in listed["results"]}

    # Moves
    for regex, position in [
        ("gap", 1),
        ("front", 5),
        ("a", -1),
        ("b", 50),
        ("b", 2147483648),
        ("b", -3),
        ("b", "abc"),
        ("string", 0),
    ]:
        t.send("PUT", f"/routes/{ids[regex]}/", {"position": position})
    t.send("PUT", f"/routes/{ids['a']}/", {"position": 0, "routing_regex": "(bad"})
    t.send("PUT", f"/routes/{ids['a']}/", {"position": 0, "manual_order": True})
    t.send("GET", f"/routes/?integration_id={ia}&perpage=100")

    # Updates
    r = r0["id"]
    for body in [
        {},
        {"escalation_chain_id": None},
        {"escalation_chain_id": ""},
        {"escalation_chain_id": chain},
        {"escalation_chain_id": "FNOSUCHCHAIN1"},
        {"routing_type": "jinja2"},
        {"routing_type": "labels"},
        {"routing_type": "bogus"},
        {"routing_regex": "  spaced  "},
        {"routing_regex": ""},
        {"routing_regex": None},
        {"routing_regex": "x" * 1025},
        {"routing_type": "jinja2", "routing_regex": "{{ payload.ok }}"},
        {"routing_regex": "{{ payload.other }}"},
        {"routing_regex": "{{ (not a regex"},
        {"routing_type": "jinja2", "routing_regex": "{{ (not a regex }}"},
        {"routing_type": "regex", "routing_regex": "back"},
        {"integration_id": ib, "is_the_last_route": True, "id": "RIGNORED12345"},
        {"slack": {"enabled": False}},
        {"slack": {"enabled": None}},
        {"slack": {"channel_id": None}},
        {"slack": {}},
        {"telegram": {"enabled": 0}},
        {"telegram": {"id": None}},
        {"telegram": {"id": "ZZZZ"}},
        {"mobile_app": {"enabled": True}},
        {"email": {"enabled": False}},
        {"webhook": {"id": "W1"}},
        {"webhook": {}},
        {"mobile_app_critical": {"other": 1}},
        {"slack": "notadict"},
        [],
    ]:
        t.send("PUT", f"/routes/{r}/", body)
    t.send("PATCH", f"/routes/{r}/", {"routing_regex": "patched"})
    t.send("PATCH", f"/routes/{r}", {"telegram": {"enabled": True}})

    # The default route through both endpoints
    t.send("PUT", f"/routes/{da}/", {"escalation_chain_id": chain, "email": {"enabled": True}})
    t.send("GET", f"/integrations/{ia}/")
    t.send("PUT", f"/integrations/{ia}/", {"default_route": {"escalation_chain_id": None}})
    t.send("GET", f"/routes/{da}/")
    t.send("PUT", f"/routes/{da}/", {"routing_regex": "stored", "routing_type": "regex"})
    t.send("PUT", f"/routes/{da}/", {"position": 3})
    t.send("PUT", f"/routes/{da}/", {"position": -1})
    t.send("PUT", f"/routes/{da}/", {"escalation_chain_id": None})
    t.send("DELETE", f"/routes/{da}/")
    t.send("GET", f"/routes/{da}/")

    # Deletes leave gaps
    t.send("DELETE", f"/routes/{ids['front']}/")
    t.send("DELETE", f"/routes/{ids['front']}/")
    t.send("GET", f"/routes/{ids['front']}/")
    t.send("GET", f"/routes/?integration_id={ia}&perpage=100")

    # Lists: filters and pages
    t.send("POST", "/routes/", {**base, "integration_id": ib, "routing_regex": "a"})
    t.send("GET", "/routes/?routing_regex=a")
    t.send("GET", "/routes/?routing_regex=")
    t.send("GET", "/routes/?integration_id=CNOSUCHINTEG1")
    t.send("GET", f"/routes/?integration_id={ib}&routing_regex=a")
    for query in ["perpage=5", "perpage=5&page=2", "perpage=5&page=99", "perpage=5&page=0"]:
        t.send("GET", f"/routes/?integration_id={ia}&{query}")
    for query in ["page=abc", "perpage=0", "perpage=abc", "perpage=-1"]:
        t.send("GET", f"/routes/?integration_id={ia}&{query}")
    for n in range(MANY):
        t.send(
            "POST", "/routes/", {**base, "integration_id": ib, "routing_regex": f"m{n}"}, quiet=True
        )
    many = t.send("GET", f"/routes/?integration_id={ib}&perpage=150", quiet=True)
    print(
        f"# perpage=150 of {many['count']}: page_size {many['page_size']},"
        f" {len(many['results'])} results, {many['total_pages']} pages"
    )
    default = t.send("GET", f"/routes/?integration_id={ib}", quiet=True)
    print(f"# default page: page_size {default['page_size']}, {len(default['results'])} results")
    everything = t.send("GET", "/routes/?perpage=100&page=2", quiet=True)
    print(
        "# unfiltered page 2:",
        t.normal(json.dumps([(r["integration_id"], r["position"]) for r in everything["results"]])),
    )

    # Integration deletion takes the routes
    t.send("DELETE", f"/integrations/{ia}/")
    t.send("GET", f"/routes/{ids['a']}/")
    t.send("GET", f"/routes/{da}/")
    t.send("PUT", f"/routes/{ids['a']}/", {"routing_regex": "x"})
    t.send("GET", f"/routes/?integration_id={ia}")
    t.send("POST", "/routes/", {**base, "routing_regex": "orphan"})
    t.send("DELETE", f"/integrations/{ib}/", quiet=True)
    t.send("GET", "/routes/")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="the OnCall's base URL, without /api/v1")
    args = parser.parse_args()
    token = os.environ.get("ONCALL_TOKEN")
    if not token:
        sys.exit("set ONCALL_TOKEN to the OnCall API token")
    run(Transcript(args.url, token))


if __name__ == "__main__":
    main()
