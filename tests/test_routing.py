"""Routing sample alerts as OnCall does, the findings on the routes, and `render --routes`."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pulumi
import pytest
from pulumi.output import UNKNOWN

from pulumi_oncall import _routing as routing
from pulumi_oncall import _template_checks as template_checks
from pulumi_oncall.__main__ import main
from pulumi_oncall._exceptions import ExpectationError, SampleError
from pulumi_oncall._rendering import Sample, parse_samples
from pulumi_oncall._template_checks import check

TEAM = "{{ payload.team }}"
TEAMS = [
    Sample("db down", {"team": "db", "severity": "critical"}),
    Sample("web slow", {"team": "web", "severity": "warning"}),
]


def routed(routes: list[dict[str, Any]], samples: list[Sample] = TEAMS, **kw: Any) -> Any:
    return check("api", type_="webhook", templates=None, routes=routes, samples=samples, **kw)


def texts(report: template_checks.Report) -> list[str]:
    return [f.text("api") for f in report.routing_findings]


def landing(report: template_checks.Report) -> list[int | None]:
    return [r.taken for r in report.routed]


# --- OnCall's rule: re.search over json.dumps(payload) ------------------------------

TRICKY: list[tuple[Any, str, bool]] = [
    # Nested objects: OnCall's separators at every level.
    ({"a": {"b": {"c": 1}}}, r'"b": \{"c": 1\}', True),
    ({"a": {"b": {"c": 1}}}, r'"b":\{"c":1\}', False),
    # Lists.
    ({"tags": ["x", "y"]}, r'\["x", "y"\]', True),
    ({"tags": ["x", "y"]}, r'\["x","y"\]', False),
    ({"alerts": [{"labels": {"sev": "p1"}}]}, r'"alerts": \[\{"labels": \{"sev": "p1"', True),
    # Unicode: json.dumps escapes non-ASCII, so a regex for the character finds nothing.
    ({"who": "José"}, "José", False),
    ({"who": "José"}, r"Jos\\u00e9", True),
    ({"emoji": "🔥"}, r"\\ud83d\\udd25", True),
    # Escaped quotes and backslashes as JSON writes them.
    ({"msg": 'say "hi"'}, r'say \\"hi\\"', True),
    ({"msg": 'say "hi"'}, 'say "hi"', False),
    ({"path": "C:\\tmp"}, r"C:\\\\tmp", True),
    # Keys in the payload's order, JSON's literals.
    ({"b": 1, "a": 2}, r'"b": 1, "a": 2', True),
    ({"ok": True, "none": None}, r'"ok": true, "none": null', True),
    # Anywhere in the text, not anchored.
    ({"x": "prod-eu-1"}, "eu", True),
    ({"x": "prod"}, "^prod", False),
    # A pattern Python's re refuses is never satisfied, even if `regex` takes it.
    ({"x": "a"}, r"\p{L}", False),
    ({"x": "a"}, "(", False),
]


@pytest.mark.parametrize(("payload", "term", "expected"), TRICKY)
def test_the_regex_matching_is_oncalls_re_search_over_json_dumps(
    payload: Any, term: str, expected: bool
) -> None:
    try:
        oncall = re.search(term, json.dumps(payload)) is not None
    except re.error:
        oncall = False
    assert oncall is expected
    route = routing.Route(0, "regex", term)
    assert routing.takes(route, payload, None).satisfied is expected


@pytest.mark.parametrize(
    ("text", "taken"),
    [("True", True), (" ok\n", True), ("1", True), ("TRUE", True), ("False", False),
     ("yes", False), ("db", False), ("{{ '' }}", False)],
)  # fmt: skip
def test_a_jinja2_route_is_taken_only_on_1_true_or_ok(text: str, taken: bool) -> None:
    report = routed([{"routing_type": "jinja2", "routing_regex": text}], TEAMS[:1])
    assert landing(report) == [0 if taken else None]


def test_routes_are_tried_in_order_and_the_default_takes_the_rest() -> None:
    report = routed(
        [
            {"name": "crit", "routing_regex": '"severity": "critical"'},
            {"name": "db", "routing_type": "jinja2", "routing_regex": '{{ payload.team == "db" }}'},
            {"name": "web", "routing_regex": '"team": "web"'},
        ],
        [*TEAMS, Sample("other", {"team": "api"})],
    )
    assert landing(report) == [0, 2, None]
    assert report.routed[0].satisfied == [0, 1]


def test_jinja2_routes_see_static_and_dynamic_labels() -> None:
    test = '{{ labels.env == "prod" and labels.team == "db" }}'
    route = [{"routing_type": "jinja2", "routing_regex": test}]
    report = routed(
        route, TEAMS, labels={"env": "prod"}, dynamic_labels={"team": "{{ payload.team }}"}
    )
    assert landing(report) == [0, None]
    assert texts(report) == []


# --- Findings -----------------------------------------------------------------------


def test_a_jinja2_route_that_renders_a_value_is_a_finding_with_the_comparison() -> None:
    report = routed([{"name": "team", "routing_type": "jinja2", "routing_regex": TEAM}])
    assert landing(report) == [None, None]
    assert texts(report) == [
        "integration 'api': routes[0] ('team') on all 2 samples: renders 'db', 'web', which "
        "OnCall never takes: a Jinja2 route is taken only when it renders 1, true or ok "
        '(stripped, any case); make it a comparison, such as {{ payload.team == "db" }}'
    ]


def test_a_narrow_jinja2_route_that_renders_false_is_no_finding() -> None:
    report = routed([{"routing_type": "jinja2", "routing_regex": '{{ payload.team == "api" }}'}])
    assert landing(report) == [None, None]
    assert texts(report) == []


def test_a_jinja2_route_that_fails_is_skipped_as_oncall_does_and_said() -> None:
    report = routed(
        [
            {"name": "broken", "routing_type": "jinja2", "routing_regex": "{{ payload.x.y }}"},
            {"name": "db", "routing_regex": '"team": "db"'},
        ]
    )
    assert landing(report) == [1, None]
    assert texts(report) == [
        "integration 'api': routes[0] ('broken') on all 2 samples: fails to render "
        "(UndefinedError: 'dict object' has no attribute 'x'): OnCall skips the route for "
        "such an alert, and says so only in its server log"
    ]


def test_a_regex_written_for_compact_json_is_a_finding_with_the_fix() -> None:
    report = routed([{"name": "crit", "routing_regex": '"severity":"critical"'}])
    assert landing(report) == [None, None]
    assert texts(report) == [
        "integration 'api': routes[0] ('crit') on sample 'db down': matches no sample as "
        "OnCall writes the JSON, but would match the sample's JSON written without spaces "
        "after ',' and ':': OnCall searches json.dumps(payload), which puts a space after "
        'every \',\' and \':\' ("severity": "critical"); \'"severity": "critical"\' matches it'
    ]


def test_a_regex_for_a_non_ascii_character_is_a_finding_with_the_escape() -> None:
    report = routed([{"routing_regex": "José"}], [Sample("josé", {"owner": "José"})])
    assert landing(report) == [None]
    [text] = texts(report)
    assert "written with non-ASCII characters as they are" in text
    assert "every non-ASCII character as a \\uXXXX escape (é as \\u00e9)" in text
    assert text.endswith("'Jos\\\\\\\\u00e9' matches it")  # the regex Jos\\u00e9


def test_a_regex_that_matches_some_sample_is_not_a_compact_json_finding() -> None:
    report = routed([{"routing_regex": '"team": "db"|"team":"web"'}])
    assert landing(report) == [0, None]
    assert texts(report) == []


def test_a_shadowed_route_names_the_route_that_takes_its_samples() -> None:
    report = routed(
        [
            {"name": "critical", "routing_regex": "critical"},
            {"name": "db", "routing_type": "jinja2", "routing_regex": '{{ payload.team == "db" }}'},
            {"name": "web", "routing_regex": "web"},
        ]
    )
    assert landing(report) == [0, 2]
    assert texts(report) == [
        "integration 'api': routes[1] ('db') on sample 'db down': shadowed on the samples: "
        "every sample it matches is taken first by routes[0] ('critical'); move this route "
        "above routes[0] ('critical'), or narrow routes[0] ('critical')"
    ]


def test_a_catastrophic_regex_gives_up_and_is_a_finding() -> None:
    report = routed(
        [{"routing_regex": "(a|aa)+$"}, {"routing_regex": "a"}],
        [Sample("long", {"msg": "a" * 40 + "b"})],
    )
    assert landing(report) == [1]
    [text] = texts(report)
    assert text.startswith(
        "integration 'api': routes[0] on sample 'long': the regex search gave up (stopped "
        "after 2 s, and not run again once it was)"
    )


def test_secret_routes_keep_rendered_text_out() -> None:
    report = routed([{"routing_type": "jinja2", "routing_regex": TEAM}], quote=False)
    [text] = texts(report)
    assert "'db'" not in text and "payload.team" not in text and "text not shown" in text
    compact = {"routing_regex": '"severity":"critical"'}
    test = {"routing_type": "jinja2", "routing_regex": '{{ payload.team == "x" }}'}
    report = routed([compact, test], expecting(1, None, None, None), quote=False)
    shown = "\n".join(texts(report))
    assert "without spaces after" in shown and "matches it" not in shown
    assert "'False'" not in shown and "renders (text not shown" in shown


# --- Expectations -------------------------------------------------------------------

ROUTES = [
    {"name": "crit", "routing_regex": '"severity": "critical"'},
    {"name": "db", "routing_type": "jinja2", "routing_regex": '{{ payload.team == "db" }}'},
]
ALERTS = [
    Sample("db slow", {"team": "db", "severity": "warning"}),
    Sample("web down", {"team": "web", "severity": "critical"}),
    Sample("db down", {"team": "db", "severity": "critical"}),
    Sample("api slow", {"team": "api", "severity": "warning"}),
]


def expecting(*routes: Any) -> list[Sample]:
    return [Sample(s.name, s.payload, route=r) for s, r in zip(ALERTS, routes, strict=True)]


def test_expectations_met_are_no_finding() -> None:
    report = routed(ROUTES, expecting("db", "crit", "crit", "default"))
    assert [r.as_expected for r in report.routed] == [True, True, True, True]
    assert texts(report) == []
    assert routed(ROUTES, expecting(1, 0, 0, routing.DEFAULT)).routing_findings == []
    assert routed(ROUTES, expecting(None, 0, None, None)).routing_findings == []


def test_expectations_missed_say_where_the_sample_lands_and_why() -> None:
    report = routed(ROUTES, expecting("crit", "db", "db", 0))
    assert [r.as_expected for r in report.routed] == [False, False, False, False]
    where = "integration 'api': routes[{}] ('{}') on sample '{}': the sample is expected here"
    assert texts(report) == [
        where.format(0, "crit", "db slow") + ", but the route does not take it (the regex "
        "finds nothing in the sample's JSON as OnCall writes it), so it lands on routes[1] ('db')",
        where.format(1, "db", "web down") + ", but the route does not take it (renders "
        "'False', not 1, true or ok), so it lands on routes[0] ('crit')",
        where.format(1, "db", "db down") + ", and matches it, but lands on routes[0] ('crit'), "
        "which comes first",
        where.format(0, "crit", "api slow") + ", but the route does not take it (the regex "
        "finds nothing in the sample's JSON as OnCall writes it), so it lands on the default "
        "route",
    ]
    report = routed(ROUTES, expecting("default", None, None, None))
    assert texts(report) == [
        "integration 'api': default_route on sample 'db slow': the sample is expected on the "
        "default route, but routes[1] ('db') takes it"
    ]


@pytest.mark.parametrize(
    ("routes", "expected", "message"),
    [
        (ROUTES, "dbb", "sample 'db down' expects route 'dbb', but no route of the integration "
         "has that name; name one of 'crit', 'db', give the route's index (0 for routes[0]), "
         "or 'default' for the default route"),
        (ROUTES, 2, "sample 'db down' expects route 2, but the integration has 2 routes "
         "(routes[0] to routes[1]); give an index below 2, a route's name, or 'default'"),
        ([{"routing_regex": "x"}], "x", "no route has a `name`: give the route one"),
        (None, "db", "sample 'db down' expects route 'db', but the integration declares no "
         "`routes`"),
    ],
)  # fmt: skip
def test_an_expectation_naming_no_route_is_an_error_with_the_fix(
    routes: Any, expected: Any, message: str
) -> None:
    with pytest.raises(ExpectationError) as caught:
        routed(routes, [Sample("db down", {}, route=expected)])
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("value", "message"),
    [(True, "`route` must be a route's name, its index (0 for routes[0]) or 'default'; got bool"),
     (-1, "`route` -1 is not an index: routes count from 0"),
     ("  ", "`route` is empty"), ([0], "got list")],
)  # fmt: skip
def test_a_sample_entry_route_is_a_name_an_index_or_default(value: Any, message: str) -> None:
    with pytest.raises(SampleError, match=re.escape(message)):
        parse_samples({"oncall_samples": [{"payload": {}, "route": value}]}, "set.json")
    [sample] = parse_samples({"oncall_samples": [{"payload": {}, "route": "db"}]}, "set.json")
    assert sample.route == "db"


def test_routes_not_known_yet_are_skipped_and_said() -> None:
    report = routed(UNKNOWN, expecting("nope", "nope", None, None))
    assert report.routes is None and report.routed == []
    assert "routes" in report.unknown
    report = routed([{"routing_regex": UNKNOWN}], TEAMS)
    assert report.routes is None and "routes" in report.unknown
    # Malformed routes fail the provider's check, which says how.
    report = routed([{"routing_regex": "  "}], expecting("x", None, None, None))
    assert report.routes is None and report.routing_findings == []


def test_strict_counts_routing_findings_apart() -> None:
    template_checks._strict.pending = 1
    with pytest.raises(pulumi.RunError) as caught:
        template_checks._fail_when_all_reported("api", 0, 2)
    assert str(caught.value).startswith(
        "2 routing findings on 'api' (shown on each integration) and oncall:templateChecks "
        "is strict. Fix the routes,"
    )


def test_only_routing_fields_reach_the_checks() -> None:
    chain = object()
    stripped = template_checks._routing_input(
        [{"routing_regex": "x", "escalation_chain_id": chain, "slack": {"channel_id": "C1"}}],
        chains=False,
    )
    assert stripped == [{"routing_regex": "x", "routing_type": None, "name": None}]


# --- render --routes ----------------------------------------------------------------


def test_render_routes_routes_samples_through_a_table_from_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table = tmp_path / "routes.json"
    table.write_text(
        json.dumps(
            {
                "routes": [
                    {"name": "crit", "routing_regex": '"severity":"critical"'},
                    {"name": "db", "routing_type": "jinja2",
                     "routing_regex": '{{ payload.team == "db" }}', "escalation_chain_id": "FDB"},
                ],
                "default_route": {"escalation_chain_id": "FDEF"},
            }
        )
    )  # fmt: skip
    samples = tmp_path / "samples.json"
    samples.write_text(
        json.dumps(
            {"oncall_samples": [{"name": "db down", "route": "crit", "payload": TEAMS[0].payload},
                                {"name": "web slow", "payload": TEAMS[1].payload}]}
        )
    )  # fmt: skip
    assert main(["render", "--routes", str(table), "--payload", str(samples)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        "--- sample 'db down'",
        "==> routes[1] ('db'), escalation chain FDB (expected: routes[0] ('crit'))",
        "--- sample 'web slow'",
        "==> default route, escalation chain FDEF",
        "findings:",
        "  - routes file 'routes.json': routes[0] ('crit') on sample 'db down': matches no "
        "sample as OnCall writes the JSON, but would match the sample's JSON written without "
        "spaces after ',' and ':': OnCall searches json.dumps(payload), which puts a space "
        'after every \',\' and \':\' ("severity": "critical"); \'"severity": "critical"\' '
        "matches it",
        "  - routes file 'routes.json': routes[0] ('crit') on sample 'db down': the sample is "
        "expected here, but the route does not take it (the regex finds nothing in the "
        "sample's JSON as OnCall writes it), so it lands on routes[1] ('db')",
    ]
    table.write_text(json.dumps([{"routing_regex": "("}]))
    assert main(["render", "--routes", str(table), "--type", "webhook"]) == 2
    assert "routes.json: routes[0]: the regex does not compile" in capsys.readouterr().err
