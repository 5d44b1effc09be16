"""Renders kept on disk: a later process reads them instead of starting a render
process; what is damaged, secret or bounded is never served from there."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pulumi_oncall import _render_cache, _version
from pulumi_oncall import _template_checks as template_checks

TEMPLATES = {"grouping_key": "{{ payload.alert_uid }}", "web": {"title": "{{ payload.title }}"}}


@pytest.fixture
def jobs(render_jobs: list[Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[Any]:
    """The jobs that reach the render process, with the cache in tmp_path."""
    monkeypatch.setenv(_render_cache.ENV, str(tmp_path / "cache"))
    return render_jobs


def entries(tmp_path: Path) -> list[Path]:
    folder = tmp_path / "cache"
    return sorted(folder.glob("*.json")) if folder.exists() else []


def texts(report: template_checks.Report) -> list[str | None]:
    return [r.result.text for r in report.renderings]


def test_a_later_process_reads_the_renders_instead_of_rendering(
    jobs: list[Any],
    tmp_path: Path,
    forget_renders: Callable[[], None],
) -> None:
    first = template_checks.check("a", type_="webhook", templates=TEMPLATES)
    assert len(jobs) == 1 and not first.findings
    (entry,) = entries(tmp_path)
    assert stat.S_IMODE(os.stat(entry.parent).st_mode) == 0o700
    forget_renders()
    again = template_checks.check("b", type_="webhook", templates=TEMPLATES)
    assert len(jobs) == 1
    assert texts(again) == texts(first) and again.integration == "b"
    # Another template, other labels, other samples: other jobs.
    template_checks.check("c", type_="webhook", templates=TEMPLATES, labels={"env": "prod"})
    template_checks.check("d", type_="webhook", templates={"grouping_key": "{{ 1 }}"})
    template_checks.check("e", type_="grafana", templates=TEMPLATES)
    assert len(jobs) == 4 and len(entries(tmp_path)) == 4


@pytest.mark.parametrize(
    "damage",
    [
        "not json",
        "[]",
        '{"0.0": ["x", null, null, 1, 1, []]}',  # another job's keys
        "wrong shapes",
    ],
)
def test_a_damaged_entry_is_rendered_again_and_replaced(
    jobs: list[Any],
    tmp_path: Path,
    damage: str,
    forget_renders: Callable[[], None],
) -> None:
    first = template_checks.check("a", type_="webhook", templates=TEMPLATES)
    (entry,) = entries(tmp_path)
    good = json.loads(entry.read_text())
    if damage == "wrong shapes":
        damage = json.dumps({key: [1, 2, 3, -1, "x", [None]] for key in good})
    entry.write_text(damage)
    forget_renders()
    again = template_checks.check("a", type_="webhook", templates=TEMPLATES)
    assert len(jobs) == 2 and texts(again) == texts(first)
    assert json.loads(entry.read_text()) == good


def test_what_the_entry_says_is_what_a_later_check_reports(
    jobs: list[Any],
    tmp_path: Path,
    forget_renders: Callable[[], None],
) -> None:
    # The cache is trusted as much as the package is: it lives in the user's own
    # directory, and its results are the findings.
    template_checks.check("a", type_="webhook", templates={"grouping_key": "{{ 'k' }}{{ 1 }}"})
    (entry,) = entries(tmp_path)
    kept = json.loads(entry.read_text())
    entry.write_text(json.dumps({key: ["", None, None, 0, w[4], []] for key, w in kept.items()}))
    forget_renders()
    report = template_checks.check(
        "a", type_="webhook", templates={"grouping_key": "{{ 'k' }}{{ 1 }}"}
    )
    assert len(jobs) == 1
    assert any("renders empty" in f.problem for f in report.findings)


def test_secret_templates_are_never_written(jobs: list[Any], tmp_path: Path) -> None:
    template_checks.check("a", type_="webhook", templates=TEMPLATES, quote=False)
    assert len(jobs) == 1 and entries(tmp_path) == []


def test_off_and_an_unwritable_directory_mean_no_cache(
    jobs: list[Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    forget_renders: Callable[[], None],
) -> None:
    monkeypatch.setenv(_render_cache.ENV, "off")
    template_checks.check("a", type_="webhook", templates=TEMPLATES)
    assert not (tmp_path / "cache").exists()
    blocked = tmp_path / "file"
    blocked.write_text("")
    monkeypatch.setenv(_render_cache.ENV, str(blocked / "below-a-file"))
    forget_renders()
    report = template_checks.check("a", type_="webhook", templates=TEMPLATES)
    assert len(jobs) == 2 and report.renderings


def test_the_default_directory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(_render_cache.ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert _render_cache.directory() == tmp_path / "pulumi-oncall" / "renders"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert _render_cache.directory() == tmp_path / "home" / ".cache" / "pulumi-oncall" / "renders"


def test_another_version_of_the_package_reads_other_entries(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    before = _render_cache._path(tmp_path, "job")
    monkeypatch.setattr(_version, "__version__", "0.0.0-other")
    _render_cache._fingerprint.cache_clear()
    try:
        assert _render_cache._path(tmp_path, "job") != before
    finally:
        monkeypatch.undo()
        _render_cache._fingerprint.cache_clear()
    assert _render_cache._path(tmp_path, "job") == before


def test_a_render_that_hit_a_bound_is_not_kept(jobs: list[Any], tmp_path: Path) -> None:
    # Python-level loops far past the time bound.
    loop = "{% for i in [0] * 100000 %}{% for j in [0] * 100000 %}{% endfor %}{% endfor %}"
    slow = {"grouping_key": "{# cache #}" + loop}
    report = template_checks.check("a", type_="webhook", templates=slow)
    assert any("stopped after" in f.problem for f in report.findings)
    assert entries(tmp_path) == []
