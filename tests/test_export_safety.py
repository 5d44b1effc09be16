"""`export` writes what the server sent only as string literals and one-line comments.

A team named "x\\n)\\nimport os; os.system(...)\\n_ = dict(\\n#" once ended its comment
and became code that `pulumi preview` ran. Each test seeds such text in every place
the export writes, parses the program, and checks that only the expected statements
are there, that every comment is one line, and that ruff finds it formatted.
"""

from __future__ import annotations

import ast
import io
import json
import os
import re
import shlex
import subprocess
import sys
import tokenize
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from emulator_seed import TOKEN
from migration_states import (
    pulumi_export,
    pulumi_resource,
    tf_integration,
    tf_resource,
    tf_route,
    tf_state,
)

from pulumi_oncall import _exporting as exporting
from pulumi_oncall import _migrating as migrating
from pulumi_oncall import _schema as schema
from pulumi_oncall.emulator import EmulatorProcess

# Every line break that Python's tokenizer, str.splitlines() or an editor honours.
BREAKS = ["\n", "\r", "\r\n", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]
BREAK_CHARS = frozenset("".join(BREAKS))
KEYWORDS = frozenset(schema.API_FIELDS) | {"connection", "import_id", "routes"}


def evil(n: int, where: str) -> str:
    """Text that would run code if written raw into a comment or a string."""
    br = BREAKS[n]
    return f"{where}{n}{br})\nimport os; os.system('touch pwned'){br}_ = dict({br}#'\"\\"


def checked(text: str, tmp_path: Path) -> tuple[list[tuple[str, dict[str, Any]]], list[str]]:
    """The program's Integration calls (evaluated) and comments, once it passes every check."""
    # Only "\n" ends a line anywhere in the file: in code, strings and comments.
    assert not set(text) & (BREAK_CHARS - {"\n"})
    tree = ast.parse(text)
    docstring, imports, *statements = tree.body
    assert isinstance(docstring, ast.Expr) and isinstance(docstring.value, ast.Constant)
    assert str(docstring.value.value).startswith("Existing OnCall integrations, exported")
    expected_import = ast.parse("from pulumi_oncall import Integration").body[0]
    assert ast.dump(imports) == ast.dump(expected_import)
    calls: list[tuple[str, dict[str, Any]]] = []
    for statement in statements:
        assert isinstance(statement, ast.Assign), ast.dump(statement)
        [target] = statement.targets
        assert isinstance(target, ast.Name)
        call = statement.value
        assert isinstance(call, ast.Call) and isinstance(call.func, ast.Name)
        assert call.func.id == "Integration"
        [resource_name] = call.args
        kwargs: dict[str, Any] = {}
        for keyword in call.keywords:
            assert keyword.arg in KEYWORDS
            # literal_eval takes literals only: no name, call or attribute anywhere.
            kwargs[keyword.arg] = ast.literal_eval(keyword.value)
        calls.append((ast.literal_eval(resource_name), kwargs))

    comments = []
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if token.type == tokenize.COMMENT:
            assert token.start[0] == token.end[0]
            assert not set(token.string) & BREAK_CHARS, token.string
            comments.append(token.string)

    source = tmp_path / "exported"
    source.mkdir(exist_ok=True)
    (source / "__main__.py").write_text(text, encoding="utf-8")
    lint = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--isolated", "--check", str(source)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr
    return calls, comments


def commented(comments: list[str], text: str) -> bool:
    """Whether a comment shows `text`, as it is or as a string literal of it."""
    for comment in comments:
        shown = comment.removeprefix("# ")
        if shown == text:
            return True
        try:
            if ast.literal_eval(shown) == text:
                return True
        except (ValueError, SyntaxError):
            pass
    return False


def declarable(value: Any) -> bool:
    """Whether a value is of a kind an Integration argument takes: text, flags, mappings."""
    if isinstance(value, dict):
        return all(isinstance(k, str) and declarable(v) for k, v in value.items())
    return isinstance(value, (str, bool))


def integration(n: int) -> dict[str, Any]:
    """A cloud integration with crafted text in every field the export writes."""
    return {
        "type": "webhook",
        "name": evil(n, "name"),
        "description_short": evil(n, "description"),
        "team_id": f"TEVIL{n}",
        "default_route": {
            "escalation_chain_id": f"FEVIL{n}",
            **{
                backend: {target: evil(n, backend), "enabled": n % 2 == 0}
                for backend, target in schema.ROUTE_BACKENDS.items()
            },
        },
        "templates": {
            **{field: evil(n, field) for field in schema.TEMPLATE_FIELDS},
            **{
                group: {field: evil(n, f"{group}.{field}") for field in fields}
                for group, fields in schema.TEMPLATE_GROUPS.items()
            },
        },
        "labels": [{"key": {"name": evil(n, "key")}, "value": {"name": evil(n, "value")}}],
        "dynamic_labels": [
            {"key": {"name": evil(n, "dynamic")}, "value": {"name": evil(n, "template")}}
        ],
    }


SEED: dict[str, Any] = {
    "teams": [{"id": f"TEVIL{n}", "name": evil(n, "team")} for n in range(len(BREAKS))],
    "escalation_chains": [
        {"id": f"FEVIL{n}", "name": evil(n, "chain"), "team_id": None} for n in range(len(BREAKS))
    ],
    "integrations": [integration(n) for n in range(len(BREAKS))]
    + [
        # Ids and types the export must not write as code, nor adopt.
        {"type": "webhook", "name": f"id {n}", "id": f"C{n}{br}import os{br}#"}
        for n, br in enumerate(BREAKS)
    ]
    + [{"type": f"webhook{br}import os{br}#", "name": f"type {n}"} for n, br in enumerate(BREAKS)]
    + [{"type": "direct_paging", "name": evil(0, "paging"), "team_id": "TEVIL0"}],
}


@pytest.fixture(scope="module")
def crafted() -> Iterator[EmulatorProcess]:
    args = ["--flavour", "cloud", "--slack-connected"]
    with EmulatorProcess(token=TOKEN, seed=SEED, extra_args=args) as emu:
        yield emu


def export(emulator: EmulatorProcess, output: Path) -> str:
    env = {**os.environ, "GRAFANA_ONCALL_ACCESS_TOKEN": TOKEN}
    env.pop("GRAFANA_ONCALL_URL", None)
    done = subprocess.run(
        [sys.executable, "-m", "pulumi_oncall", "export", "--url", emulator.url, "-o", str(output)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert TOKEN not in done.stdout + done.stderr
    return output.read_text(encoding="utf-8")


def test_export_of_crafted_server_text_is_literals_and_one_line_comments(
    crafted: EmulatorProcess, tmp_path: Path
) -> None:
    listed = crafted.admin("GET", "integrations")["integrations"]
    text = export(crafted, tmp_path / "out.py")
    calls, comments = checked(text, tmp_path)

    by_id = {kwargs["import_id"]: kwargs for _, kwargs in calls}
    assert len(calls) == len(by_id) == len(BREAKS)
    for n in range(len(BREAKS)):
        seeded = integration(n)
        [remote] = [i for i in listed if i["name"] == seeded["name"]]
        declared = by_id[remote["id"]]
        for key in ("type", "name", "description_short", "team_id", "default_route", "templates"):
            assert declared[key] == seeded[key], key
        assert declared["labels"] == {evil(n, "key"): evil(n, "value")}
        assert declared["dynamic_labels"] == {evil(n, "dynamic"): evil(n, "template")}
        # The names of its team and chain are there, escaped, in comments.
        assert commented(comments, evil(n, "team"))
        assert commented(comments, evil(n, "chain"))

    left_out = [c for c in comments if c.startswith("# Left out: ")]
    assert len(left_out) == 2 * len(BREAKS) + 1
    for n, br in enumerate(BREAKS):
        [by_id_line] = [c for c in left_out if c.startswith(f"# Left out: 'id {n}' (")]
        assert exporting._str(f"C{n}{br}import os{br}#") in by_id_line
        assert "ASCII letters and digits" in by_id_line
        [by_type_line] = [c for c in left_out if c.startswith(f"# Left out: 'type {n}' (")]
        assert exporting._str(f"webhook{br}import os{br}#") in by_type_line
    assert any(c.startswith(f"# Left out: {evil(0, 'paging')!r}") for c in left_out)

    assert export(crafted, tmp_path / "again.py") == text


NOT_IDS: list[Any] = [
    *(f"C{n}{br}X" for n, br in enumerate(BREAKS)),
    "CÉ1",
    "C\uff11",  # a fullwidth digit: alphanumeric, but not ASCII
    "C1 2",
    "C-1",
    "C1/../2",
    "",
    "C1\x00",
    "C1\u202e",
    123,
    None,
    ["C1"],
    {"id": "C1"},
]

# Values of a kind no argument takes: such an integration is left out.
WRONG_SHAPES: list[dict[str, Any]] = [
    {"name": ["a", "b"]},
    {"name": {"evil\n": "x"}},
    {"name": 5},
    {"name": float("nan")},
    {"description_short": float("inf")},
    {"description_short": {"a": [1, 2.5, None, True]}},
    {"team_id": ["TEVIL0"]},
    {"team_id": {"id": "TEVIL0"}},
    {"templates": ["a"]},
    {"templates": "x\n"},
    {"templates": {"grouping_key": ["x\n"], "slack": {"title": {"a": float("nan")}}}},
    {"default_route": "F1\nimport os"},
    {"default_route": [1]},
    {"default_route": {"escalation_chain_id": ["FEVIL0"]}},
    {"default_route": {"slack": {"channel_id": 7, "enabled": "yes"}}},
    {"type": ["webhook"]},
    {"type": None},
]

# Odd parts that the export skips (as reads do): kept or not, only text gets written.
ODD_PARTS: list[dict[str, Any]] = [
    {"templates": {"web": "title\n"}},
    {"default_route": {"telegram": ["x"]}},
    {"labels": {"key": "value"}},
    {"labels": [{"key": {"name": {"a": "\n"}}, "value": {"name": ["\u2028"]}}]},
    {"dynamic_labels": [{"key": "k", "value": None}, 5]},
]


def test_program_of_crafted_dicts_is_safe(tmp_path: Path) -> None:
    good = [integration(n) | {"id": f"CGOOD{n}"} for n in range(len(BREAKS))]
    items: list[Any] = [
        *good,
        *({"id": id_, "type": "webhook", "name": f"bad id {n}"} for n, id_ in enumerate(NOT_IDS)),
        {"type": "webhook", "name": "no id"},
        *(
            {"id": f"CTYPE{n}", "type": f"web{br}hook", "name": f"type {n}"}
            for n, br in enumerate(BREAKS)
        ),
        *(
            {"id": f"CSHAPE{n}", "type": "webhook", "name": f"shape {n}", **fields}
            for n, fields in enumerate(WRONG_SHAPES)
        ),
        *(
            {"id": f"CODD{n}", "type": "webhook", "name": f"odd {n}", **fields}
            for n, fields in enumerate(ODD_PARTS)
        ),
        "not an object",
        5,
        None,
        ["C1"],
    ]
    teams: dict[str, Any] = {f"TEVIL{n}": evil(n, "team") for n in range(len(BREAKS))}
    teams["TEVIL0"] = {"name": "a mapping\n"}
    teams["TEVIL1"] = ["a", "list\u2028"]
    chains: dict[str, Any] = {f"FEVIL{n}": evil(n, "chain") for n in range(len(BREAKS))}
    chains["FEVIL2"] = float("nan")

    text = exporting.program(items, teams=teams, chains=chains, connection="staging")
    calls, comments = checked(text, tmp_path)

    kept = {kwargs["import_id"] for _, kwargs in calls}
    assert {i["id"] for i in good} <= kept
    assert kept <= {i["id"] for i in good} | {f"CODD{n}" for n in range(len(ODD_PARTS))}
    # What is kept of the odd shapes holds only values an argument takes.
    assert all(declarable(kwargs) for _, kwargs in calls)
    for item in good:
        [kwargs] = [k for _, k in calls if k["import_id"] == item["id"]]
        assert kwargs["name"] == item["name"] and kwargs["connection"] == "staging"
        assert kwargs["default_route"] == item["default_route"]
    for n in range(3, len(BREAKS)):
        assert commented(comments, evil(n, "team")) and commented(comments, evil(n, "chain"))
    left_out = [c for c in comments if c.startswith("# Left out: ")]
    assert len(left_out) == len(items) - len(calls)
    for n in range(len(NOT_IDS)):
        [line] = [c for c in left_out if c.startswith(f"# Left out: 'bad id {n}' (")]
        assert "ASCII letters and digits" in line
    for n in range(len(BREAKS)):
        [line] = [c for c in left_out if c.startswith(f"# Left out: 'type {n}' (")]
        assert "does not know the type" in line
    for n, fields in enumerate(WRONG_SHAPES):
        assert any(f" (CSHAPE{n}, type " in c for c in left_out), fields
    assert sum(c.startswith("# Left out: an entry that is not an object") for c in left_out) == 4

    shuffled = list(reversed(items))
    assert exporting.program(shuffled, teams=teams, chains=chains, connection="staging") == text


@pytest.mark.parametrize(
    "text",
    [
        "plain",
        "it's",
        'say "hi"',
        "it's \"quoted\" and 'again'",
        "''\"",
        '""\'',
        "back\\slash\\",
        *BREAKS,
        "\x00\x07\t\x1b\x7f\u200b\u202e\ud800",
    ],
)
def test_string_literals_round_trip_as_ruff_writes_them(text: str, tmp_path: Path) -> None:
    literal = exporting._str(text)
    assert ast.literal_eval(literal) == text
    assert literal.isprintable()  # so no line break, control or bidi character in it
    source = tmp_path / "literal.py"
    source.write_text(f"x = {literal}\n", encoding="utf-8")
    lint = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--isolated", "--check", str(source)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr


def sh_words(script: str, tmp_path: Path) -> list[list[str]]:
    """The words each command of `script` gets from sh, recorded by stand-ins for
    `terraform` and `pulumi` on PATH (the real ones need a project: shell quoting is
    what is checked here)."""
    bin_dir, log = tmp_path / "bin", tmp_path / "argv.log"
    bin_dir.mkdir(exist_ok=True)
    log.unlink(missing_ok=True)
    for tool in ("terraform", "pulumi"):
        stand_in = bin_dir / tool
        stand_in.write_text(f'#!/bin/sh\nprintf "%s\\0" {tool} "$@" >> "$LOG"; echo >> "$LOG"\n')
        stand_in.chmod(0o755)
    (tmp_path / "handover.sh").write_text(script, encoding="utf-8")
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "LOG": str(log)}
    done = subprocess.run(
        ["sh", "handover.sh"], cwd=tmp_path, env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0 and not (tmp_path / "pwned").exists(), done.stderr
    lines = log.read_text(encoding="utf-8").split("\0\n")
    return [line.split("\0") for line in lines if line]


def test_state_text_lands_only_as_literals_comments_and_quoted_shell_words(
    tmp_path: Path,
) -> None:
    """Terraform instance keys, module addresses and URNs from a crafted state reach the
    program only as escaped literals, sanitised names and one-line comments, and the
    hand-over only as single-quoted words, one command a line."""
    n_breaks = len(BREAKS)
    integrations = [
        {"id": f"CEVIL{n}", "type": "webhook", "name": f"i{n}"} for n in range(n_breaks)
    ]
    routes = {
        f"CEVIL{n}": [
            {"id": f"REVIL{n}", "integration_id": f"CEVIL{n}", "position": 0, "routing_regex": "x"}
        ]
        for n in range(n_breaks)
    }
    tf = tf_state(
        [
            tf_resource(
                "grafana_oncall_integration",
                "payments",
                [tf_integration(f"CEVIL{n}", "x", evil(n, "key")) for n in range(n_breaks)],
            ),
            tf_resource(
                "grafana_oncall_route",
                "r",
                [
                    tf_route(f"REVIL{n}", f"CEVIL{n}", 0, "x", evil(n, "route"))
                    for n in range(n_breaks)
                ],
            ),
            *(
                tf_resource(
                    "grafana_oncall_integration",
                    "m",
                    [tf_integration("CMOD1", "x")],
                    module=f"module.a{br}import os{br}#",
                )
                for br in BREAKS
            ),
            tf_resource(evil(0, "type"), "t", []),
        ]
    )
    team = "acme:index:Team"
    pulumi = pulumi_export(
        [
            *(
                pulumi_resource(
                    "grafana:onCall/integration:Integration", evil(n, "urn"), f"CEVIL{n}", {}
                )
                for n in range(n_breaks)
            ),
            *(
                pulumi_resource(
                    "grafana:onCall/route:Route",
                    f"r{n}');import os;#$(id)`id`",
                    f"REVIL{n}",
                    {"integrationId": f"CEVIL{n}"},
                    parent_type=team,
                )
                for n in range(n_breaks)
            ),
            pulumi_resource(
                "grafana:onCall/integration:Integration", "ok'$(id)\"", "CEVIL0", {}, team
            ),
        ]
    )
    for tool, state in [("terraform", tf), ("pulumi", pulumi)]:
        old = migrating.read(tool, json.dumps(state), "state")  # type: ignore[arg-type]
        text, migration = migrating.exported(
            old, integrations, routes, teams={}, chains={}, connection=None
        )
        calls, comments = checked(text, tmp_path)
        assert calls, tool
        for name, kwargs in calls:
            assert re.fullmatch(r"[A-Za-z0-9._-]+", name), name
            for route in kwargs.get("routes", []):
                assert route["name"] in {m.name for m in migration.routes.values()}
        assert any(c.startswith("# Not migrated") for c in comments)

        handover = migrating.handover(migration, f"prog{BREAKS[1]}x")
        assert all(line.isprintable() for line in handover.splitlines())
        assert not set(handover) & (BREAK_CHARS - {"\n"})
        commands = [line for line in handover.splitlines() if not line.startswith(("#", "set -eu"))]
        assert len(commands) == len(migration.handed_over()) > 0
        for line, address in zip(commands, migration.handed_over(), strict=True):
            assert line.isprintable() and shlex.split(line)[-1] == address
            assert line.endswith("'")  # every address single-quoted
        assert sh_words(handover, tmp_path) == [shlex.split(line) for line in commands]
        if tool == "terraform":  # route names keep the keys as Terraform quotes them
            assert sorted(migrating.route_names(migration).values()) == sorted(
                f"r[{migrating.hcl_quoted(evil(n, 'route'))}]" for n in range(n_breaks)
            )
