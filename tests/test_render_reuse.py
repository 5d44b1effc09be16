"""Integrations that share their templates and samples are rendered once per process."""

from __future__ import annotations

from typing import Any

import pytest

from pulumi_oncall import _template_checks as template_checks


def test_shared_templates_render_once_with_the_same_findings(render_jobs: list[Any]) -> None:
    templates = {"grouping_key": "{{ payload.nope.x }}", "web": {"title": "{{ payload.title }}"}}
    first = template_checks.check("a", type_="webhook", templates=templates)
    second = template_checks.check("b", type_="webhook", templates=templates)
    assert len(render_jobs) == 1
    assert first.findings and [f.text("x") for f in first.findings] == [
        f.text("x") for f in second.findings
    ]
    assert [r.result for r in first.renderings] == [r.result for r in second.renderings]
    # Other labels are another job.
    template_checks.check("c", type_="webhook", templates=templates, labels={"env": "prod"})
    assert len(render_jobs) == 2


def test_a_template_that_reads_the_integration_name_renders_for_each(
    render_jobs: list[Any],
) -> None:
    templates = {"web": {"title": "{{ integration_name }}: {{ payload.title }}"}}
    a = template_checks.check("a", type_="webhook", templates=templates)
    b = template_checks.check("b", type_="webhook", templates=templates)
    assert len(render_jobs) == 2
    assert a.renderings[0].result.text.startswith("a: ")  # type: ignore[union-attr]
    assert b.renderings[0].result.text.startswith("b: ")  # type: ignore[union-attr]


def test_a_clean_check_is_shared_and_one_with_findings_is_not(
    render_jobs: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    checked: list[str] = []
    real = template_checks._check

    def counted(integration: str, *args: Any) -> template_checks.Report:
        checked.append(integration)
        return real(integration, *args)

    monkeypatch.setattr(template_checks, "_check", counted)
    templates = {"web": {"title": "{{ payload.title }}"}}
    routes = [{"routing_regex": "nothing-matches-this"}]
    a = template_checks.check("a", type_="webhook", templates=templates, routes=routes)
    b = template_checks.check("b", type_="webhook", templates=templates, routes=routes)
    assert checked == ["a"] and not a.all_findings
    assert (a.integration, b.integration) == ("a", "b")
    assert b.renderings == a.renderings and b.routed == a.routed
    # Anything else that the check reads is another check.
    template_checks.check("c", type_="webhook", templates=templates, routes=routes, quote=False)
    template_checks.check("d", type_="webhook", templates=templates, labels={"env": "prod"})
    template_checks.check("e", type_="grafana", templates=templates, routes=routes)
    assert checked == ["a", "c", "d", "e"]
    # A report with findings is made again for each integration.
    broken = {"grouping_key": "{{ payload.nope.x }}"}
    f = template_checks.check("f", type_="webhook", templates=broken)
    g = template_checks.check("g", type_="webhook", templates=broken)
    assert checked[-2:] == ["f", "g"] and f.findings and g.findings
    # A template that reads the name is checked for each name.
    named = {"web": {"title": "{{ integration_name }}"}}
    template_checks.check("h", type_="webhook", templates=named)
    i = template_checks.check("i", type_="webhook", templates=named)
    assert checked[-2:] == ["h", "i"]
    assert i.renderings[0].result.text == "i"
