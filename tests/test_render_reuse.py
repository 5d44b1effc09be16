"""Integrations that share their templates and samples are rendered once per process."""

from __future__ import annotations

from typing import Any

import pytest

from pulumi_oncall import _render_worker
from pulumi_oncall import _template_checks as template_checks


@pytest.fixture
def jobs(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The jobs that reach the render process (the real one)."""
    monkeypatch.setattr(_render_worker, "_rendered", {})
    sent: list[Any] = []
    real = _render_worker._renderer.run

    def run(job: Any) -> dict[str, Any]:
        sent.append(job)
        return real(job)

    monkeypatch.setattr(_render_worker._renderer, "run", run)
    return sent


def test_shared_templates_render_once_with_the_same_findings(jobs: list[Any]) -> None:
    templates = {"grouping_key": "{{ payload.nope.x }}", "web": {"title": "{{ payload.title }}"}}
    first = template_checks.check("a", type_="webhook", templates=templates)
    second = template_checks.check("b", type_="webhook", templates=templates)
    assert len(jobs) == 1
    assert first.findings and [f.text("x") for f in first.findings] == [
        f.text("x") for f in second.findings
    ]
    assert [r.result for r in first.renderings] == [r.result for r in second.renderings]
    # Other labels are another job.
    template_checks.check("c", type_="webhook", templates=templates, labels={"env": "prod"})
    assert len(jobs) == 2


def test_a_template_that_reads_the_integration_name_renders_for_each(jobs: list[Any]) -> None:
    templates = {"web": {"title": "{{ integration_name }}: {{ payload.title }}"}}
    a = template_checks.check("a", type_="webhook", templates=templates)
    b = template_checks.check("b", type_="webhook", templates=templates)
    assert len(jobs) == 2
    assert a.renderings[0].result.text.startswith("a: ")  # type: ignore[union-attr]
    assert b.renderings[0].result.text.startswith("b: ")  # type: ignore[union-attr]
