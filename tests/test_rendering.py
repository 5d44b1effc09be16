"""Rendering templates as OnCall's engine does, the findings drawn from it, and `render`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pulumi
import pytest
from pulumi.output import UNKNOWN

from pulumi_oncall import _rendering as rendering
from pulumi_oncall import _schema as schema
from pulumi_oncall import _template_checks as template_checks
from pulumi_oncall.__main__ import main
from pulumi_oncall._exceptions import SampleError
from pulumi_oncall._rendering import Sample, render
from pulumi_oncall._template_checks import check

RESOLVED_TEST = '{{ payload.status == "resolved" }}'


def texts(report: template_checks.Report) -> list[str]:
    return [f.text(report.integration) for f in report.findings]


def only(report: template_checks.Report, template: str) -> list[str]:
    return [f.text(report.integration) for f in report.findings if f.template == template]


# --- the engine's rules ---------------------------------------------------------------


@pytest.mark.parametrize("text", ["True", "true", " ok\n", "OK", "1"])
def test_signal_texts_that_count(text: str) -> None:
    assert rendering.is_signal(text)


@pytest.mark.parametrize("text", ["resolved", "False", "yes", "10", "", None])
def test_signal_texts_that_do_not_count(text: str | None) -> None:
    assert not rendering.is_signal(text)


def test_a_comparison_renders_true_and_counts() -> None:
    result = render(RESOLVED_TEST, {"status": "resolved"})
    assert result.text == "True"
    assert rendering.is_signal(result.text)


def test_undefined_attribute_of_a_missing_key_is_a_render_warning() -> None:
    result = render("{{ payload.labels.severity.upper() }}", {"status": "firing"})
    assert not result.ok
    assert result.severity == "warning"
    assert result.problem is not None and result.problem.startswith("UndefinedError")


def test_a_filter_on_the_wrong_type_is_a_render_warning() -> None:
    result = render("{{ payload.count | join(',') }}", {"count": 3})
    assert (result.ok, result.severity) == (False, "warning")
    assert result.problem is not None and result.problem.startswith("TypeError")


def test_restricted_range_is_a_template_error() -> None:
    result = render("{% for i in range(3) %}{{ i }}{% endfor %}", {})
    assert (result.ok, result.severity) == (False, "error")
    assert "range" in (result.problem or "")


def test_filters_give_none_like_the_engine_on_values_they_cannot_handle() -> None:
    # datetimeformat wants a datetime: a string gives None, rendered as text.
    assert render("{{ payload.at | datetimeformat }}", {"at": "2024-05-14"}).text == "None"
    assert render("{{ payload.at | iso8601_to_time | datetimeformat('%d.%m') }}", {
        "at": "2024-05-14T09:12:30Z"
    }).text == "14.05"  # fmt: skip
    assert render("{{ '90m' | timedeltaparse }}", {}).text == "1:30:00"
    assert render("{{ '1h30m' | timedeltaparse }}", {}).text == "None"


def test_labels_are_in_the_context() -> None:
    assert render("{{ labels.env }}", {}, labels={"env": "prod"}).text == "prod"


def test_grouping_hash_is_none_for_an_empty_key() -> None:
    assert rendering.grouping_hash("") is None
    assert (
        rendering.grouping_hash("a") == rendering.grouping_hash("a") != rendering.grouping_hash("b")
    )


# --- length limits ----------------------------------------------------------------------


def test_a_long_result_is_cut_with_two_dots() -> None:
    result = render("{{ 'x' * 60000 }}", {})
    assert result.cut and result.length == 60_000
    assert result.text == "x" * 50_000 + ".."


def test_a_long_title_is_cut_at_500_and_reported() -> None:
    report = check("am", type_="alertmanager", templates={"slack": {"title": "{{ 't' * 600 }}"}})
    titles = [r.result for r in report.renderings if r.template.path == "templates.slack.title"]
    assert titles and all(r.text == "t" * 500 + ".." for r in titles)
    assert only(report, "templates.slack.title") == [
        "integration 'am': templates.slack.title on all 4 samples: renders 600 characters; "
        "OnCall keeps the first 500 and appends '..'"
    ]


def test_a_long_message_is_reported_but_not_at_500() -> None:
    report = check(
        "am",
        type_="alertmanager",
        templates={"slack": {"message": "{{ 'm' * 600 }}", "title": "{{ 'm' * 60001 }}"}},
    )
    assert only(report, "templates.slack.message") == []
    assert "renders 60,001 characters" in only(report, "templates.slack.title")[0]


def test_a_template_over_50000_characters_is_reported_without_rendering() -> None:
    report = check("am", type_="alertmanager", templates={"source_link": "x" * 50_001})
    assert only(report, "templates.source_link") == [
        "integration 'am': templates.source_link: the template is 50,001 characters; OnCall "
        "does not render templates over 50,000 (a template error on every alert)"
    ]
    assert render("x" * 50_001, {}).severity == "error"


# --- findings -----------------------------------------------------------------------------


def test_a_resolve_signal_that_never_fires() -> None:
    report = check("am", type_="alertmanager", templates={"resolve_signal": "{{ payload.status }}"})
    assert texts(report) == [
        "integration 'am': templates.resolve_signal on samples 'KubePodCrashLooping resolved', "
        "'NodeFilesystemAlmostFull resolved': not a resolve signal on the resolved alert: "
        "renders 'resolved', and OnCall counts only 1, true or ok (stripped, any case); a "
        'comparison such as == "resolved" renders True'
    ]


def test_a_resolve_signal_that_fires_on_the_firing_alert() -> None:
    report = check(
        "am", type_="alertmanager", templates={"resolve_signal": "{{ payload.numFiring > 0 }}"}
    )
    found = texts(report)
    assert any(
        "on samples 'KubePodCrashLooping firing', 'NodeFilesystemAlmostFull firing': resolves "
        "on the firing alert (renders 'True')" in f
        for f in found
    ), found


def test_a_correct_resolve_signal_has_no_finding() -> None:
    assert (
        texts(check("am", type_="alertmanager", templates={"resolve_signal": RESOLVED_TEST})) == []
    )


def test_an_acknowledge_signal_true_on_firing_alerts() -> None:
    report = check(
        "hook",
        type_="webhook",
        templates={"acknowledge_signal": "{{ payload.state == 'alerting' }}"},
    )
    assert texts(report) == [
        "integration 'hook': templates.acknowledge_signal on samples 'deploy failed alerting', "
        "'synthetic check alerting': acknowledges on the firing alert (renders 'True'): every "
        "alert group would be acknowledged as soon as it opens"
    ]


def test_a_render_error_names_the_template_and_the_samples() -> None:
    template = "{{ payload.alerts[0].annotations.runbook_url.split('/') | last }}"
    report = check("am", type_="alertmanager", templates={"web": {"message": template}})
    assert texts(report) == [
        "integration 'am': templates.web.message on samples 'NodeFilesystemAlmostFull firing', "
        "'NodeFilesystemAlmostFull resolved': fails to render: UndefinedError: 'dict object' has "
        "no attribute 'runbook_url'; the alert falls back to the default rendering"
    ]


def test_a_constant_grouping_key() -> None:
    report = check("am", type_="alertmanager", templates={"grouping_key": "{{ payload.receiver }}"})
    assert texts(report) == [
        "integration 'am': templates.grouping_key on all 4 samples: renders the same key "
        "'oncall-platform' for different alerts ('crashloop-payments', 'filesystem-db-03'): "
        "OnCall would fold them into one alert group"
    ]


def test_an_empty_grouping_key() -> None:
    report = check("am", type_="alertmanager", templates={"grouping_key": "{{ payload.nothing }}"})
    assert texts(report) == [
        "integration 'am': templates.grouping_key on all 4 samples: renders empty: OnCall then "
        "draws a random key, so every alert opens a group of its own and a resolve never "
        "reaches its firing alert"
    ]


def test_a_grouping_key_that_splits_firing_and_resolved() -> None:
    report = check(
        "am",
        type_="alertmanager",
        templates={"grouping_key": "{{ payload.groupKey }} {{ payload.status }}"},
    )
    found = texts(report)
    assert len(found) == 2
    assert "renders differently for the samples of alert 'crashloop-payments'" in found[0]
    assert "so the resolve would not close the firing group" in found[0]


def test_a_grouping_key_that_fails_opens_a_group_per_alert() -> None:
    report = check("am", type_="alertmanager", templates={"grouping_key": "{{ payload.x.y }}"})
    assert texts(report) == [
        "integration 'am': templates.grouping_key on all 4 samples: fails to render: "
        "UndefinedError: 'dict object' has no attribute 'x'; OnCall then draws a random key: "
        "the alert opens a group of its own"
    ]


def test_dynamic_labels_render_per_alert_and_feed_labels() -> None:
    report = check(
        "gc",
        type_="alertmanager",
        templates={"web": {"title": "{{ labels.severity }}/{{ labels.env }}"}},
        labels={"env": "prod"},
        dynamic_labels={
            "severity": "{{ payload.commonLabels.severity }}",
            "pod": "{{ payload.commonLabels.pod.split('-')[0] }}",
        },
    )
    titles = [r.result.text for r in report.renderings if r.template.path == "templates.web.title"]
    assert titles == ["critical/prod", "critical/prod", "warning/prod", "warning/prod"]
    assert [f.template for f in report.findings] == ["dynamic_labels.pod"]


def test_group_templates_see_the_web_results_and_the_source_link() -> None:
    report = check(
        "am",
        type_="alertmanager",
        templates={
            "source_link": "{{ payload.externalURL }}",
            "web": {"title": "{{ payload.commonLabels.alertname }}"},
            "slack": {
                "title": "{{ web_title }} <{{ source_link }}>",
                "message": "{{ web_message }}",
            },
        },
    )
    first = [r for r in report.renderings if r.sample.name == "KubePodCrashLooping firing"]
    by_path = {r.template.path: r.result.text for r in first}
    assert by_path["templates.slack.title"] == (
        "KubePodCrashLooping <https://alertmanager.example.com>"
    )
    assert by_path["templates.slack.message"] == "(the default web message)"


def test_values_not_known_yet_are_skipped() -> None:
    report = check(
        "am",
        type_="alertmanager",
        templates={"resolve_signal": UNKNOWN, "slack": UNKNOWN, "grouping_key": "{{ payload.x }}"},
        dynamic_labels=UNKNOWN,
    )
    assert report.unknown == ["templates.resolve_signal", "templates.slack", "dynamic_labels"]
    assert [f.template for f in report.findings] == ["templates.grouping_key"]


def test_types_without_samples_are_only_compile_checked() -> None:
    report = check("m", type_="manual", templates={"resolve_signal": "{{ payload.status }}"})
    assert (report.samples, report.findings, report.renderings) == ([], [], [])


def test_secret_templates_keep_rendered_text_out_of_findings() -> None:
    report = check(
        "am",
        type_="alertmanager",
        templates={"resolve_signal": "{{ payload.status }}"},
        quote=False,
    )
    assert "'resolved'" not in texts(report)[0]
    assert "text not shown" in texts(report)[0]


# --- samples ------------------------------------------------------------------------------

# Templates that suit each type's payloads: its built-in samples must raise no finding.
SENSIBLE: dict[str, dict[str, str]] = {
    "alertmanager": {"grouping_key": "{{ payload.groupKey }}", "resolve_signal": RESOLVED_TEST},
    "grafana_alerting": {"grouping_key": "{{ payload.groupKey }}", "resolve_signal": RESOLVED_TEST},
    "grafana": {
        "grouping_key": "{{ payload.ruleName or payload.labels.alertname }}",
        "resolve_signal": '{{ payload.state == "ok" or payload.status == "resolved" }}',
    },
    "kapacitor": {
        "grouping_key": "{{ payload.id }}",
        "resolve_signal": '{{ payload.level == "OK" }}',
    },
    "inbound_email": {
        "grouping_key": "{{ payload.subject | upper }}",
        "resolve_signal": '{{ payload.message | upper == "OK" }}',
    },
    **{
        t: {
            "grouping_key": "{{ payload.alert_uid }}",
            "resolve_signal": '{{ payload.state | upper == "OK" }}',
        }
        for t in ("formatted_webhook", "elastalert", "zabbix", "webhook")
    },
}


def test_every_open_source_type_with_alerts_has_samples() -> None:
    assert set(rendering.builtin_types()) == set(schema.OSS_TYPES) - {"manual"}
    assert set(SENSIBLE) == set(rendering.builtin_types())


@pytest.mark.parametrize("type_", sorted(SENSIBLE))
def test_builtin_samples_have_two_alerts_firing_and_resolved(type_: str) -> None:
    samples = rendering.builtin_samples(type_)
    assert {"firing", "resolved"} <= {s.state for s in samples}
    assert len({s.alert for s in samples}) >= 2
    assert all(s.alert for s in samples)
    resolved_alerts = {s.alert for s in samples if s.state == "resolved"}
    firing_alerts = {s.alert for s in samples if s.state == "firing"}
    assert resolved_alerts <= firing_alerts  # each resolve has its firing alert
    report = check(type_, type_=type_, templates=SENSIBLE[type_])
    assert texts(report) == []


def test_a_plain_dict_sample_is_taken_as_it_is(tmp_path: Path) -> None:
    samples = rendering.load_samples([{"status": "resolved"}], tmp_path)
    assert samples == [Sample("template_samples[0]", {"status": "resolved"})]
    report = check(
        "x",
        type_="alertmanager",
        templates={"resolve_signal": "{{ payload.status }}", "web": {"title": "{{ payload.a.b }}"}},
        samples=samples,
    )
    # No state: signals are not judged; render errors still are.
    assert [f.template for f in report.findings] == ["templates.web.title"]
    assert "on sample 'template_samples[0]'" in texts(report)[0]


def test_a_json_file_with_a_sample_set(tmp_path: Path) -> None:
    (tmp_path / "alerts").mkdir()
    (tmp_path / "alerts" / "deploy.json").write_text(
        json.dumps(
            {
                "oncall_samples": [
                    {"name": "broke", "alert": "d1", "state": "firing", "payload": {"s": "bad"}},
                    {"name": "fixed", "alert": "d1", "state": "resolved", "payload": {"s": "ok"}},
                    {"name": "other", "alert": "d2", "state": "firing", "payload": {"s": "bad"}},
                ]
            }
        )
    )
    samples = rendering.load_samples(["alerts/deploy.json"], tmp_path)
    assert [(s.name, s.state, s.alert) for s in samples] == [
        ("broke", "firing", "d1"),
        ("fixed", "resolved", "d1"),
        ("other", "firing", "d2"),
    ]
    report = check(
        "d",
        type_="webhook",
        templates={"resolve_signal": "{{ payload.s }}", "grouping_key": "{{ payload.s }}"},
        samples=samples,
    )
    found = texts(report)
    assert not any("resolve_signal" in f for f in found)  # "ok" counts
    assert any("renders differently for the samples of alert 'd1'" in f for f in found)
    assert any("renders the same key 'bad' for different alerts ('d1', 'd2')" in f for f in found)


def test_a_json_file_with_a_plain_payload_or_a_list(tmp_path: Path) -> None:
    (tmp_path / "one.json").write_text('{"title": "a"}')
    (tmp_path / "many.json").write_text('[{"title": "b"}, {"title": "c"}]')
    samples = rendering.load_samples(["one.json", str(tmp_path / "many.json")], tmp_path)
    assert [(s.name, s.payload) for s in samples] == [
        ("one.json", {"title": "a"}),
        ("many.json#1", {"title": "b"}),
        ("many.json#2", {"title": "c"}),
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read"),
        ("{not json", "is not valid JSON"),
        ('{"oncall_samples": []}', "must be a non-empty list"),
        ("[]", "s.json: an empty list holds no payload to render against"),
        ('{"oncall_samples": [{"name": "x"}]}', "needs a `payload`"),
        ('{"oncall_samples": [{"payload": {}, "status": "ok"}]}', "unknown key(s) 'status'"),
        ('{"oncall_samples": [{"payload": {}, "state": "ok"}]}', "state 'ok' is not one of"),
    ],
)
def test_bad_sample_files_say_what_is_wrong(
    tmp_path: Path, content: str | None, message: str
) -> None:
    if content is not None:
        (tmp_path / "s.json").write_text(content)
    with pytest.raises(SampleError, match=message.replace("(", r"\(").replace(")", r"\)")):
        rendering.load_samples(["s.json"], tmp_path)


def test_an_empty_list_of_samples_is_refused_with_the_fix() -> None:
    with pytest.raises(SampleError) as raised:
        rendering.load_samples([], Path("."))
    assert str(raised.value) == (
        "the list is empty, so no template would be checked: give at least one payload or "
        "JSON file, or omit template_samples to use the type's built-in samples"
    )


def test_a_sample_that_is_neither_dict_nor_path() -> None:
    with pytest.raises(SampleError, match=r"template_samples\[0\] is a int"):
        rendering.load_samples([3], Path("."))


# --- the stack setting ------------------------------------------------------------------


@pytest.fixture
def templates_config() -> Any:
    def set_value(value: str) -> None:
        pulumi.runtime.set_config(template_checks.CONFIG_KEY, value)

    yield set_value
    pulumi.runtime.set_all_config({}, [])


def test_mode_defaults_to_warn_and_refuses_unknown_values(templates_config: Any) -> None:
    assert template_checks.mode() == "warn"
    templates_config("Strict")
    assert template_checks.mode() == "strict"
    templates_config("loud")
    with pytest.raises(pulumi.RunError, match="oncall:templateChecks is 'loud'; it takes warn"):
        template_checks.mode()


# --- the `render` command ---------------------------------------------------------------


def test_render_prints_the_text_and_the_signal_verdict(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["render", "--type", "alertmanager", "--as", "resolve_signal", "--sample", "resolved",
         "--template", "{{ payload.status }}"]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    assert out == (
        "--- sample 'KubePodCrashLooping resolved' (resolved, alert crashloop-payments)\n"
        "resolved\n"
        "==> resolve_signal: no, OnCall counts only 1, true or ok (stripped, any case)\n"
        "--- sample 'NodeFilesystemAlmostFull resolved' (resolved, alert filesystem-db-03)\n"
        "resolved\n"
        "==> resolve_signal: no, OnCall counts only 1, true or ok (stripped, any case)\n"
    )
    main(["render", "--type", "alertmanager", "--as", "resolve_signal", "--sample",
          "KubePodCrashLooping resolved", "--template", RESOLVED_TEST])  # fmt: skip
    assert capsys.readouterr().out.splitlines()[1:] == [
        "True",
        "==> resolve_signal: yes, OnCall would resolve the alert group",
    ]


def test_render_a_payload_file_with_labels_and_a_failure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "p.json").write_text('{"title": "Disk full"}')
    code = main(
        ["render", "--payload", str(tmp_path / "p.json"), "--label", "env=prod", "--as", "title",
         "--template", "[{{ labels.env }}] {{ payload.title }}"]
    )  # fmt: skip
    assert (code, capsys.readouterr().out) == (0, "--- sample 'p.json'\n[prod] Disk full\n")
    code = main(
        ["render", "--payload", str(tmp_path / "p.json"), "--template", "{{ payload.a.b }}"]
    )
    assert code == 1
    assert "[render warning] UndefinedError" in capsys.readouterr().out


def test_render_grouping_key_verdict(capsys: pytest.CaptureFixture[str]) -> None:
    main(["render", "--type", "webhook", "--as", "grouping_key", "--sample", "firing",
          "--template", "{{ payload.nothing }}"])  # fmt: skip
    out = capsys.readouterr().out
    assert out.count("==> grouping_key: none, OnCall draws a random key") == 2


def test_render_without_samples_says_how_to_give_them(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render", "--type", "manual", "--template", "x"]) == 2
    assert "type 'manual' has no built-in samples" in capsys.readouterr().err
