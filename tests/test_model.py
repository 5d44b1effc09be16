"""The spec <-> API JSON layer, called directly."""

from __future__ import annotations

import pulumi.runtime.rpc
import pytest

from pulumi_oncall import _model as model
from pulumi_oncall import _schema as schema

FULL = {
    "type": "alertmanager",
    "name": "am",
    "team_id": "TTEAMPLATFORM",
    "description_short": "prod",
    "default_route": {
        "escalation_chain_id": "FCHAINDEFAULT",
        "slack": {"channel_id": "C123", "enabled": False},
    },
    "templates": {
        "grouping_key": "{{ payload.fingerprint }}",
        "slack": {"title": "{{ payload.title }}"},
    },
}


def failures(**inputs: object) -> dict[str, str]:
    return dict(model.validate({"type": "webhook", **inputs}))


def test_unknown_sentinel_is_the_engines() -> None:
    assert model.UNKNOWN == pulumi.runtime.rpc.UNKNOWN


def test_valid_full_spec_has_no_failures() -> None:
    assert model.validate(FULL) == []


@pytest.mark.parametrize("bad", [None, "", "   "])
def test_type_is_required(bad: object) -> None:
    assert "required" in dict(model.validate({"type": bad}))["type"]


@pytest.mark.parametrize("refused", sorted(schema.REFUSED_TYPES))
def test_refused_types_name_the_servers_reason(refused: str) -> None:
    reason = dict(model.validate({"type": refused}))["type"]
    assert schema.REFUSED_TYPES[refused] in reason


@pytest.mark.parametrize("known", [*schema.OSS_TYPES, *schema.CLOUD_TYPES])
def test_every_known_type_passes(known: str) -> None:
    assert model.validate({"type": known}) == []


def test_an_unknown_type_gets_a_suggestion() -> None:
    reason = dict(model.validate({"type": "alertmanagr"}))["type"]
    assert reason == "unknown type 'alertmanagr'; did you mean 'alertmanager'?"
    far = dict(model.validate({"type": "carrier-pigeon"}))["type"]
    assert "known types:" in far and "zendesk" in far


def test_labels_are_mappings_of_non_empty_strings() -> None:
    assert failures(labels={"env": "prod"}, dynamic_labels={"sev": "{{ payload.sev }}"}) == {}
    assert "mapping" in failures(labels=[{"key": "env", "value": "prod"}])["labels"]
    assert "non-empty value" in failures(labels={"env": ""})["labels.env"]
    assert "non-empty strings" in failures(labels={"": "x"})["labels"]
    bad = failures(dynamic_labels={"sev": "{{ payload.sev | nope }}"})
    assert "No filter named 'nope'" in bad["dynamic_labels.sev"]


def test_length_limits() -> None:
    assert "limit is 150" in failures(name="x" * 151)["name"]
    assert failures(name="x" * 150) == {}
    assert "limit is 250" in failures(description_short="d" * 251)["description_short"]


def test_blank_name_refused() -> None:
    assert "blank" in failures(name="  ")["name"]


def test_unknown_keys_anywhere() -> None:
    got = failures(
        templates={"slak": {"title": "x"}, "slack": {"foo": "x"}, "mobile_app": {"image_url": "x"}},
        default_route={"pagerduty": {"id": "x"}, "slack": {"id": "x"}},
    )
    assert set(got) == {
        "templates.slak",
        "templates.slack.foo",
        "templates.mobile_app.image_url",
        "default_route.pagerduty",
        "default_route.slack.id",
    }
    assert "silently drop" in got["templates.slak"]


def test_templates_must_compile_with_oncall_filters() -> None:
    ok = "{{ payload.labels | tojson_pretty }} {{ payload.a | regex_replace('x', 'y') }}"
    assert failures(templates={"web": {"message": ok}}) == {}
    got = failures(templates={"resolve_signal": "{{ x | nope }}", "slack": {"title": "{% if %}"}})
    assert "No filter named 'nope'" in got["templates.resolve_signal"]
    assert "does not compile" in got["templates.slack.title"]


def test_wrong_value_types() -> None:
    got = failures(
        team_id=5,
        templates={"slack": "x", "grouping_key": 3},
        default_route={"slack": {"enabled": "yes"}},
    )
    assert set(got) == {
        "team_id",
        "templates.slack",
        "templates.grouping_key",
        "default_route.slack.enabled",
    }


def test_unknown_values_pass_validation() -> None:
    u = model.UNKNOWN
    assert model.validate({"type": u, "name": u, "templates": {"slack": {"title": u}}}) == []
    assert model.validate({"type": "grafana", "templates": u, "default_route": u}) == []


def test_create_payload_holds_only_declared_fields() -> None:
    payload = model.create_payload({**FULL, "description_short": None, "templates": {"web": None}})
    assert "description_short" not in payload
    assert "templates" not in payload
    assert payload["default_route"]["slack"] == {"channel_id": "C123", "enabled": False}


def test_update_payload_resets_removed_fields_and_never_sends_type() -> None:
    news = {**FULL, "type": "grafana", "templates": {"grouping_key": "{{ x }}"}}
    del news["description_short"]
    payload = model.update_payload(FULL, news)
    assert payload == {
        "description_short": None,
        "templates": {"grouping_key": "{{ x }}", "slack": {"title": None}},
    }


def test_removed_enabled_flag_resets_to_the_documented_default_only() -> None:
    olds = {
        "type": "webhook",
        "default_route": {"slack": {"enabled": False}, "telegram": {"id": "T", "enabled": False}},
    }
    payload = model.update_payload(olds, {"type": "webhook"})
    assert payload == {"default_route": {"slack": {"enabled": True}, "telegram": {"id": None}}}


def test_diff_ignores_server_extras_and_unchanged() -> None:
    remote_like = {**FULL, "link": "http://x", "maintenance_mode": None}
    assert model.diff(remote_like, FULL).changed == ()


def test_diff_reports_changes_removals_and_unknowns() -> None:
    news = {**FULL, "templates": {"grouping_key": model.UNKNOWN}}
    d = model.diff(FULL, news)
    assert d.changed == ("templates.grouping_key", "templates.slack.title")
    assert d.replaces == ()


def test_type_change_replaces_deleting_first_when_the_name_is_kept() -> None:
    same_name = model.diff(FULL, {**FULL, "type": "webhook"})
    assert same_name.replaces == ("type",)
    assert same_name.delete_before_replace
    renamed = model.diff(FULL, {**FULL, "type": "webhook", "name": "am2"})
    assert renamed.replaces == ("type",)
    assert not renamed.delete_before_replace


def test_outputs_carry_declared_fields_as_stored_plus_read_only() -> None:
    remote = {
        "id": "CABC",
        "type": "alertmanager",
        "name": "am",
        "team_id": None,
        "link": "http://h/integrations/v1/alertmanager/tok/",
        "heartbeat": {"link": "http://h/integrations/v1/alertmanager/tok/heartbeat/"},
        "default_route": {"id": "RDEF", "escalation_chain_id": None, "slack": {"channel_id": None}},
        "templates": {"grouping_key": "{{ changed }}", "slack": {"title": None, "message": None}},
        "maintenance_mode": None,
    }
    outs = model.outputs(remote, FULL)
    assert outs["templates"] == {"grouping_key": "{{ changed }}", "slack": {"title": None}}
    assert outs["link"].endswith("/tok/")
    assert outs["heartbeat_link"].endswith("heartbeat/")
    assert outs["default_route_id"] == "RDEF"
    assert "message" not in outs["templates"]["slack"]
    # The drifted template shows as a change against the program.
    assert "templates.grouping_key" in model.diff(outs, FULL).changed


def test_unstored_names_cloud_only_groups() -> None:
    inputs = {"type": "webhook", "name": "w", "templates": {"msteams": {"title": "t"}}}
    remote = {"type": "webhook", "name": "w", "templates": {"slack": {"title": None}}}
    (line,) = model.not_kept(inputs, remote)
    assert line.startswith("templates.msteams.title") and "Grafana Cloud" in line


def test_normalise_trims_name_like_the_server() -> None:
    assert model.normalise({"name": "  am  "})["name"] == "am"


def test_labels_go_whole_on_the_wire_and_compare_as_sets() -> None:
    spec = {"type": "webhook", "labels": {"team": "db", "env": "prod"}}
    assert model.create_payload(spec)["labels"] == [
        {"key": {"name": "env"}, "value": {"name": "prod"}},
        {"key": {"name": "team"}, "value": {"name": "db"}},
    ]
    remote = {
        "type": "webhook",
        "labels": [
            {"key": {"id": "k2", "name": "team"}, "value": {"id": "v2", "name": "db"}},
            {"key": {"id": "k1", "name": "env"}, "value": {"id": "v1", "name": "prod"}},
        ],
    }
    assert model.not_kept(spec, remote) == []
    reordered = {"type": "webhook", "labels": {"env": "prod", "team": "db"}}
    assert model.diff(spec, reordered).changed == ()
    changed = {"type": "webhook", "labels": {"env": "staging", "team": "db"}}
    assert model.diff(spec, changed).changed == ("labels",)
    assert model.diff(spec, changed).replaces == ()
    assert model.update_payload(spec, changed)["labels"] == [
        {"key": {"name": "env"}, "value": {"name": "staging"}},
        {"key": {"name": "team"}, "value": {"name": "db"}},
    ]
    assert model.update_payload(spec, {"type": "webhook"}) == {"labels": []}


def test_labels_the_server_drops_are_reported_with_the_cloud_hint() -> None:
    spec = {"type": "webhook", "labels": {"env": "prod"}}
    oss_body = {"type": "webhook", "templates": {}}
    assert model.not_kept(spec, oss_body) == ["labels (labels exist only on Grafana Cloud)"]
    assert model.fields_without_place(oss_body, spec) == [
        "labels (labels exist only on Grafana Cloud)"
    ]
    assert model.fields_without_place({"labels": []}, spec) == []
    assert model.not_kept({"type": "webhook", "labels": {}}, oss_body) == []


def test_empty_ids_are_sent_as_null_and_match_null() -> None:
    spec = {"type": "webhook", "team_id": "", "default_route": {"escalation_chain_id": ""}}
    assert model.create_payload(spec) == {
        "type": "webhook",
        "team_id": None,
        "default_route": {"escalation_chain_id": None},
    }
    remote = {"type": "webhook", "team_id": None, "default_route": {"escalation_chain_id": None}}
    assert model.not_kept(spec, remote) == []
    drifted = {**remote, "team_id": "TOTHER"}
    assert model.not_kept(spec, drifted) == ["team_id"]


def test_adopt_payload_holds_only_what_differs() -> None:
    remote = {
        "type": "webhook",
        "name": "n",
        "description_short": "old",
        "templates": {"web": {"title": "a", "message": "m"}},
    }
    same = {"type": "webhook", "name": "n", "templates": {"web": {"title": "a"}}}
    assert model.adopt_payload(remote, same) == {}
    different = {**same, "description_short": "new", "templates": {"web": {"title": "b"}}}
    payload = model.adopt_payload(remote, different)
    assert payload == {"description_short": "new", "templates": {"web": {"title": "b"}}}


def test_ids_are_ascii_letters_and_digits() -> None:
    for crafted in ("../teams", "C1/..", "C1?x", "C1%2F", "C 1", "C1.", "Cé1", "C\n1"):
        got = failures(
            import_id=crafted, team_id=crafted, default_route={"escalation_chain_id": crafted}
        )
        assert "ASCII letters and digits" in got["import_id"]
        assert "ASCII letters and digits" in got["team_id"]
        assert "ASCII letters and digits" in got["default_route.escalation_chain_id"]
        assert crafted not in got["import_id"]
    assert (
        failures(import_id="CABC123", team_id="", default_route={"escalation_chain_id": ""}) == {}
    )


def test_nul_characters_are_refused_wherever_they_are() -> None:
    got = failures(
        description_short="a\u0000b",
        templates={"slack": {"title": "x\u0000"}},
        labels={"k\u0000": "v"},
    )
    assert "NUL" in got["description_short"]
    assert "NUL" in got["templates.slack.title"]
    assert any(k.startswith("labels.") and "NUL" in v for k, v in got.items())


def test_normalise_trims_what_the_server_trims() -> None:
    out = model.normalise(
        {
            "name": " n ",
            "description_short": " d\n",
            "labels": {" env ": " prod "},
            "dynamic_labels": {" sev ": " {{ payload.sev }} "},
            "templates": {"slack": {"title": " t "}},
        }
    )
    assert out["name"] == "n" and out["description_short"] == "d"
    assert out["labels"] == {"env": "prod"}
    # Dynamic label values are templates: kept as written, like templates.
    assert out["dynamic_labels"] == {"sev": " {{ payload.sev }} "}
    assert out["templates"] == {"slack": {"title": " t "}}
    assert "team_id" not in model.normalise({"name": "x"})


def test_wrong_kinds_are_described_without_the_value() -> None:
    got = failures(team_id=42.0, description_short=["secret-ish"])
    assert got["team_id"].endswith("got a number")
    assert "secret-ish" not in got["description_short"]
