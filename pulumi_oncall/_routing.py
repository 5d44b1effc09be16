"""Routing sample alerts as OnCall routes them, and what the samples say about the routes.

OnCall's rule, which this module follows:

- The routes are tried in their order; the first one satisfied takes the alert. The
  default route sorts apart from the others and comes last, satisfied by anything.
- A `regex` route is satisfied when Python's `re.search(term, json.dumps(payload))`
  finds a match: the payload's JSON text as `json.dumps` writes it by default, with
  `", "` between items, `": "` after keys, keys in the payload's order, and every
  non-ASCII character escaped (`é` is written `\\u00e9`). A pattern that `re` cannot
  compile is never satisfied.
- A `jinja2` route is satisfied when the template, rendered with `payload` and the
  alert's `labels` (the static ones and the results of the dynamic ones), gives a
  text that is `1`, `true` or `ok` once stripped and lower-cased. A template error or
  a render warning makes it unsatisfied; the engine only writes it to its log.

Regex routes are searched here, with the `regex` module (whose default mode matches
as `re` does) and a timeout, so that a catastrophic pattern cannot hang the caller;
`re` itself would run it for as long as it takes. Jinja2 routes are rendered with
the templates, in the render process.

Imports nothing of Pulumi: `render --routes` uses it without a program.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import regex

from ._exceptions import ExpectationError, SampleError
from ._rendering import BOUND_CONSEQUENCE, Declared, Rendered, Sample, is_signal
from ._templating import REGEX_TIMEOUT

KIND = "route"
"""The `Declared.kind` of a Jinja2 route rendered with the templates."""
DEFAULT = "default"
"""The expectation that names the default route."""
NO_TEXTS = ("", "0", "false")
"""Rendered texts that read as a deliberate no: a route that renders them is not a mistake."""
UNKNOWN_CHAIN = object()


@dataclass(frozen=True)
class Route:
    """One declared route, as OnCall matches it."""

    index: int
    type: str
    term: str
    name: str | None = None
    chain: Any = None
    """The escalation chain id; None for none, UNKNOWN_CHAIN when not known yet."""

    @property
    def label(self) -> str:
        return f"routes[{self.index}]" + (f" ({self.name!r})" if self.name else "")

    @property
    def path(self) -> str:
        return f"routes[{self.index}].routing_regex"

    def as_declared(self) -> Declared:
        return Declared(self.path, KIND, self.term)


@dataclass(frozen=True)
class Verdict:
    """What one route makes of one sample."""

    satisfied: bool
    rendered: Rendered | None = None
    """A Jinja2 route's result."""
    gave_up: bool = False
    """A regex route whose search ran past the timeout."""


@dataclass(frozen=True)
class Routed:
    """Where one sample lands."""

    sample: Sample
    taken: int | None
    """The index of the route that takes it; None for the default route."""
    verdicts: tuple[Verdict, ...]
    expects: bool = False
    """Whether the sample says where it must land."""
    expected: int | None = None
    """Where: the expected route's index, None for the default route."""

    @property
    def satisfied(self) -> list[int]:
        return [i for i, v in enumerate(self.verdicts) if v.satisfied]

    @property
    def as_expected(self) -> bool | None:
        """None when the sample has no expectation."""
        return self.taken == self.expected if self.expects else None


# --- The declared routes ------------------------------------------------------------


def declared_routes(value: Any, is_unknown: Any = None) -> tuple[list[Route] | None, bool]:
    """The routes to simulate, and whether they are not known yet.

    None when there is nothing to simulate: routes not declared, or malformed (the
    provider's check says how). `is_unknown` tells a value not known yet.
    """

    def unknown(v: Any) -> bool:
        return bool(is_unknown is not None and is_unknown(v))

    if value is None:
        return None, False
    if unknown(value):
        return None, True
    if not isinstance(value, (list, tuple)):
        return None, False
    routes: list[Route] = []
    for i, item in enumerate(value):
        if unknown(item):
            return None, True
        if not isinstance(item, Mapping):
            return None, False
        term, kind, name = (item.get(k) for k in ("routing_regex", "routing_type", "name"))
        if unknown(term) or unknown(kind) or unknown(name):
            return None, True
        kind = kind or "regex"
        if not isinstance(term, str) or not term.strip() or kind not in ("regex", "jinja2"):
            return None, False
        chain = item.get("escalation_chain_id")
        chain = UNKNOWN_CHAIN if unknown(chain) else (chain or None)
        routes.append(Route(i, kind, term.strip(), name if isinstance(name, str) else None, chain))
    return routes, False


Expectation = tuple[bool, "int | None"]
"""Whether a sample expects a route, and which (its index, None for the default)."""


def resolve_expectations(
    routes: list[Route] | None, samples: Sequence[Sample]
) -> list[Expectation]:
    """Each sample's expectation, checked against the routes."""
    expected: list[Expectation] = []
    for sample in samples:
        want = sample.route
        if want is None:
            expected.append((False, None))
            continue
        where = f"sample {sample.name!r} expects route {want!r}"
        if routes is None:
            raise ExpectationError(
                f"{where}, but the integration declares no `routes` (undeclared, they are "
                "not managed, and not known at preview): declare the routes, or remove the "
                "expectation"
            )
        if want == DEFAULT:
            expected.append((True, None))
        elif isinstance(want, int):
            if want >= len(routes):
                have = (
                    f"{len(routes)} route{'s' if len(routes) != 1 else ''} (routes[0] to "
                    f"routes[{len(routes) - 1}])"
                    if routes
                    else "no routes"
                )
                raise ExpectationError(
                    f"{where}, but the integration has {have}; give an index below "
                    f"{len(routes)}, a route's name, or {DEFAULT!r}"
                )
            expected.append((True, want))
        else:
            found = [r.index for r in routes if r.name == want]
            if not found:
                names = [r.name for r in routes if r.name]
                hint = (
                    f"name one of {', '.join(map(repr, names))}"
                    if names
                    else "no route has a `name`: give the route one"
                )
                raise ExpectationError(
                    f"{where}, but no route of the integration has that name; {hint}, give "
                    f"the route's index (0 for routes[0]), or {DEFAULT!r} for the default route"
                )
            expected.append((True, found[0]))
    return expected


# --- OnCall's rule ------------------------------------------------------------------


def oncall_json(payload: Any) -> str:
    """The text OnCall searches a regex route in: `json.dumps` with its defaults."""
    return json.dumps(payload)


_gave_up: set[str] = set()
"""Patterns that ran past the timeout: not run again in this process."""


@lru_cache(maxsize=1024)
def _pattern(term: str) -> Any:
    """The compiled pattern, or None when `re` refuses it (as OnCall compiles it)."""
    try:
        re.compile(term)
        return regex.compile(term)
    except (re.error, regex.error, RecursionError, OverflowError):
        return None


def search(term: str, text: str) -> bool | None:
    """OnCall's `re.search(term, text)`, bounded; None when it gave up."""
    if term in _gave_up:
        return None
    pattern = _pattern(term)
    if pattern is None:
        return False  # OnCall logs re.error and takes the route as unsatisfied
    try:
        return pattern.search(text, timeout=REGEX_TIMEOUT) is not None
    except TimeoutError:
        _gave_up.add(term)
        return None
    except (RecursionError, OverflowError):
        return False


def takes(
    route: Route, payload: Any, rendered: Rendered | None, text: str | None = None
) -> Verdict:
    """Whether `route` is satisfied by an alert with body `payload`.

    For a Jinja2 route `rendered` is its result for the alert (from the render process);
    `text` is the payload's JSON text when it is at hand.
    """
    if route.type == "jinja2":
        return Verdict(rendered is not None and rendered.ok and is_signal(rendered.text), rendered)
    found = search(route.term, oncall_json(payload) if text is None else text)
    return Verdict(bool(found), gave_up=found is None)


def simulate(
    routes: Sequence[Route],
    samples: Sequence[Sample],
    rendered: Sequence[Mapping[int, Rendered]],
    expected: Sequence[Expectation] | None = None,
) -> list[Routed]:
    """Where each sample lands; every route is judged on every sample (for shadowing).

    `rendered[s][i]` is Jinja2 route i's result for sample s.
    """
    out: list[Routed] = []
    for s, sample in enumerate(samples):
        text = oncall_json(sample.payload) if any(r.type == "regex" for r in routes) else None
        verdicts = tuple(takes(r, sample.payload, rendered[s].get(r.index), text) for r in routes)
        taken = next((i for i, v in enumerate(verdicts) if v.satisfied), None)
        expects, want = expected[s] if expected is not None else (False, None)
        out.append(Routed(sample, taken, verdicts, expects, want))
    return out


# --- Findings -----------------------------------------------------------------------

Problem = tuple[str, str, "str | None"]
"""Where (a route's label), what, and on which sample."""


def _quote(text: str | None, quote: bool) -> str:
    if not quote:
        return "(text not shown: the routes are secret)"
    text = text or ""
    return repr(text if len(text) <= 60 else text[:57] + "...")


def _landing(routes: Sequence[Route], index: int | None) -> str:
    return "the default route" if index is None else routes[index].label


def problems(
    routes: Sequence[Route], routed: Sequence[Routed], quote: bool = True
) -> list[Problem]:
    """The findings on the routes, one tuple per sample they happen on."""
    found: list[Problem] = []
    others: dict[int, list[str]] = {}  # per sample, written once for all routes
    for route in routes:
        verdicts = [(r.sample, r.verdicts[route.index]) for r in routed]
        if route.type == "jinja2":
            found += _jinja_problems(route, verdicts, quote)
        else:
            found += _regex_problems(route, verdicts, quote, others)
        found += _shadowed(routes, route, routed)
    for r in routed:
        if r.as_expected is False:
            found.append(_missed(routes, r, quote))
    return found


def _jinja_problems(
    route: Route, verdicts: list[tuple[Sample, Verdict]], quote: bool
) -> list[Problem]:
    found: list[Problem] = []
    values: list[tuple[Sample, str]] = []
    for sample, verdict in verdicts:
        result = verdict.rendered
        if result is None:
            continue
        if result.severity == "bound":
            found.append((route.label, f"{result.problem}; {BOUND_CONSEQUENCE}", sample.name))
        elif not result.ok:
            found.append(
                (
                    route.label,
                    f"fails to render ({result.problem}): OnCall skips the route for such an "
                    "alert, and says so only in its server log",
                    sample.name,
                )
            )
        else:
            found += [
                (route.label, f"{note}: renders {_quote(result.text, quote)}", sample.name)
                for note in result.notes
            ]
            text = result.text or ""
            if not is_signal(text) and text.strip().lower() not in NO_TEXTS:
                values.append((sample, text))
    if values and not any(v.satisfied for _, v in verdicts):
        texts = list(dict.fromkeys(t for _, t in values))
        shown = ", ".join(_quote(t, quote) for t in texts[:3]) + (", ..." if len(texts) > 3 else "")
        problem = (
            f"renders {shown}, which OnCall never takes: a Jinja2 route is taken only when it "
            f"renders 1, true or ok (stripped, any case); make it a comparison, such as "
            f"{_comparison(route.term if quote else '', texts[0] if quote else None)}"
        )
        found += [(route.label, problem, s.name) for s, _ in values]
    return found


_EXPRESSION = re.compile(r"\{\{-?\s*([^{}]+?)\s*-?\}\}")


def _comparison(term: str, text: str | None) -> str:
    """The route rewritten as a comparison with what it rendered, when it is simple."""
    value = json.dumps(text.strip()) if text is not None else '"..."'
    simple = _EXPRESSION.fullmatch(term.strip())
    expression = simple.group(1) if simple else "payload.field"
    return f"{{{{ {expression} == {value} }}}}"


def _regex_problems(
    route: Route, verdicts: list[tuple[Sample, Verdict]], quote: bool, others: dict[int, list[str]]
) -> list[Problem]:
    found: list[Problem] = []
    for sample, verdict in verdicts:
        if verdict.gave_up:
            found.append(
                (
                    route.label,
                    f"the regex search gave up (stopped after {REGEX_TIMEOUT} s, and not run "
                    "again once it was); OnCall's re.search has no time limit and would hold "
                    "up every such alert at least as long; the simulation takes the route as "
                    "not matching",
                    sample.name,
                )
            )
    if any(v.satisfied or v.gave_up for _, v in verdicts):
        return found
    for s, (sample, _) in enumerate(verdicts):
        if s not in others:
            others[s] = _other_texts(sample.payload)
        how = _other_json_match(route.term, others[s])
        if how is not None:
            problem = _json_problem(route.term, how, sample.payload, quote)
            found.append((route.label, problem, sample.name))
    return found


_WAYS = ((True, False), (False, True), (True, True))
"""The other ways of writing the JSON: (compact, non-ASCII as it is)."""


def _other_texts(payload: Any) -> list[str]:
    """The payload's JSON written the other ways, in the order of `_WAYS`."""
    return [
        json.dumps(payload, separators=(",", ":") if compact else None, ensure_ascii=not raw)
        for compact, raw in _WAYS
    ]


def _other_json_match(term: str, texts: list[str]) -> tuple[bool, bool] | None:
    """(compact, raw) of the first other way of writing the JSON that the regex matches."""
    for way, text in zip(_WAYS, texts, strict=True):
        if search(term, text):
            return way
    return None


def _json_problem(term: str, how: tuple[bool, bool], payload: Any, quote: bool) -> str:
    compact, raw = how
    ways = []
    if compact:
        ways.append("without spaces after ',' and ':'")
    if raw:
        ways.append("with non-ASCII characters as they are")
    facts = []
    if compact:
        facts.append("a space after every ',' and ':' (\"severity\": \"critical\")")
    if raw:
        facts.append("every non-ASCII character as a \\uXXXX escape (é as \\u00e9)")
    problem = (
        "matches no sample as OnCall writes the JSON, but would match the sample's JSON written "
        f"{' and '.join(ways)}: OnCall searches json.dumps(payload), which puts "
        f"{' and '.join(facts)}"
    )
    fixed = _fixed_regex(term, compact, raw)
    if quote and fixed != term and search(fixed, oncall_json(payload)):
        problem += f"; {fixed!r} matches it"
    return problem


def _fixed_regex(term: str, compact: bool, raw: bool) -> str:
    fixed = term
    if compact:
        fixed = re.sub(r'(?<=["\]}\w]):(?=["\[{\w-])', ": ", fixed)
        fixed = re.sub(r'(?<=["\]}\w]),(?=["\[{\w-])', ", ", fixed)
    if raw:
        fixed = "".join(
            c if ord(c) < 128 else json.dumps(c)[1:-1].replace("\\", "\\\\") for c in fixed
        )
    return fixed


def _shadowed(routes: Sequence[Route], route: Route, routed: Sequence[Routed]) -> list[Problem]:
    matching = [r for r in routed if r.verdicts[route.index].satisfied]
    if not matching or any(r.taken == route.index for r in matching):
        return []
    earlier = sorted({r.taken for r in matching if r.taken is not None})
    takers = " and ".join(routes[i].label for i in earlier)
    problem = (
        f"shadowed on the samples: every sample it matches is taken first by {takers}; "
        f"move this route above {takers}, or narrow {takers}"
    )
    return [(route.label, problem, r.sample.name) for r in matching]


def _missed(routes: Sequence[Route], r: Routed, quote: bool) -> Problem:
    want = r.expected
    where = routes[want].label if want is not None else "default_route"
    lands = _landing(routes, r.taken)
    if want is None:
        problem = f"the sample is expected on the default route, but {lands} takes it"
    elif r.verdicts[want].satisfied:
        problem = (
            f"the sample is expected here, and matches it, but lands on {lands}, which comes first"
        )
    else:
        problem = (
            f"the sample is expected here, but the route does not take it "
            f"({_why_not(routes[want], r.verdicts[want], quote)}), so it lands on {lands}"
        )
    return (where, problem, r.sample.name)


def _why_not(route: Route, verdict: Verdict, quote: bool) -> str:
    if route.type == "regex":
        if verdict.gave_up:
            return "the regex search gave up"
        return "the regex finds nothing in the sample's JSON as OnCall writes it"
    result = verdict.rendered
    if result is None or not result.ok:
        return "the template fails to render"
    return f"renders {_quote(result.text, quote)}, not 1, true or ok"


# --- Describing where samples land --------------------------------------------------


def describe(routes: Sequence[Route], r: Routed, default_chain: Any = None) -> str:
    """`routes[1] ('db'), escalation chain FDB`, with how the expectation fared."""
    if r.taken is None:
        text, chain = "default route", default_chain
    else:
        text, chain = routes[r.taken].label, routes[r.taken].chain
    if chain is UNKNOWN_CHAIN:
        text += ", escalation chain not known yet"
    elif chain:
        text += f", escalation chain {chain}"
    else:
        text += ", no escalation chain"
    if r.as_expected is True:
        text += " (as expected)"
    elif r.as_expected is False:
        text += f" (expected: {_landing(routes, r.expected)})"
    return text


@dataclass
class Table:
    """A routing table on its own: routes from a JSON file (`render --routes`)."""

    routes: list[Route] = field(default_factory=list)
    default_chain: Any = None


def read_table(document: Any, origin: str) -> Table:
    """A list of routes, or an object with `routes` (and optionally `default_route`)."""
    default_chain = None
    if isinstance(document, Mapping):
        unknown = sorted(set(document) - {"routes", "default_route"})
        if unknown or "routes" not in document:
            raise SampleError(
                f"{origin}: give a list of routes, or an object with `routes` and optionally "
                "`default_route`"
            )
        default = document.get("default_route")
        if isinstance(default, Mapping):
            default_chain = default.get("escalation_chain_id") or None
        document = document["routes"]
    if not isinstance(document, list):
        raise SampleError(f"{origin}: `routes` must be a list of routes")
    for i, item in enumerate(document):
        at = f"{origin}: routes[{i}]"
        if not isinstance(item, Mapping):
            raise SampleError(f"{at} must be an object with routing_regex")
        term, kind = item.get("routing_regex"), item.get("routing_type") or "regex"
        if not isinstance(term, str) or not term.strip():
            raise SampleError(f"{at}: routing_regex is required, a non-empty string")
        if kind not in ("regex", "jinja2"):
            raise SampleError(f"{at}: routing_type must be 'regex' or 'jinja2', got {kind!r}")
        if item.get("name") is not None and not isinstance(item["name"], str):
            raise SampleError(f"{at}: name must be a string")
        if kind == "regex":
            try:
                re.compile(term.strip())
            except (re.error, RecursionError) as exc:
                raise SampleError(f"{at}: the regex does not compile ({exc})") from None
    routes, _ = declared_routes(document)
    return Table(routes or [], default_chain)
