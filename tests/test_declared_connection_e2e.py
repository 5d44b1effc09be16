"""A `Connection` declared with a token another stack exports, through the real CLI:
the state holds the token only encrypted, a rotation writes nothing to OnCall, and
destroy uses the new token. The same program deploys to a second OnCall from config."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

from e2e_support import RESOURCE_TYPE, TESTS, OnCall, Project
from emulator_seed import EMULATOR_ARGS, SEED, TEAM_PLATFORM
from pulumi_env import pulumi_env, run_pulumi

from pulumi_oncall.emulator import EmulatorProcess

PROGRAMS = TESTS / "programs"
SECRET_SIG = "4dabf18193072939515e22adb298388d"
OLD, NEW = "declared-old-7c2a91f0", "declared-new-3b8e06d4"
SPEC = {
    "here": {"type": "webhook", "name": "From config"},
    "there": {"type": "alertmanager", "name": "Declared", "declared": True},
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def raw_state(project: Project) -> str:
    """Every file of the backend: the stacks' states, their backups and history."""
    root = Path(project.env["PULUMI_BACKEND_URL"].removeprefix("file://"))
    return "".join(p.read_text() for p in root.rglob("*.json"))


def plain(value: Any) -> Any:
    """A value of `stack export --show-secrets`, its secrets decoded."""
    if isinstance(value, dict) and SECRET_SIG in value:
        return plain(json.loads(value["plaintext"]))
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def declared_token(project: Project) -> Any:
    """The token the state holds for the declared integration, decrypted: checked here,
    kept out of the project's recorded output."""
    resource = declared_resource(project)
    assert resource["outputs"]["connection"][SECRET_SIG]  # the whole connection a secret
    outputs, inputs = plain(resource["outputs"]), plain(resource["inputs"])
    assert outputs["connection"] == inputs["connection"]
    return outputs["connection"]["token"]


def declared_resource(project: Project) -> dict[str, Any]:
    """The declared integration's entry in the state, secrets decrypted."""
    shown = json.loads(
        run_pulumi(["stack", "export", "--show-secrets"], project.dir, project.env).stdout
    )
    (found,) = [
        r
        for r in shown["deployment"]["resources"]
        if r["type"] == RESOURCE_TYPE and r["urn"].endswith("::there")
    ]
    return dict(found)


def test_a_token_from_another_stack_rotates_without_writes(
    tmp_path: Path, emulator: Any, oncall: OnCall
) -> None:
    second = EmulatorProcess(
        token=[OLD, NEW],
        db=tmp_path / "second.sqlite3",
        seed=SEED,
        port=free_port(),
        extra_args=EMULATOR_ARGS,
    )
    with second:
        there = OnCall(second.url, NEW)
        env = pulumi_env(tmp_path)
        producer = Project(
            tmp_path, emulator.url, source=PROGRAMS / "token_producer", name="tokens", env=env
        )
        producer.run("config", "set", "oncallUrl", second.url)
        producer.run("config", "set", "--secret", "oncallToken", OLD)
        producer.up()

        consumer = Project(
            tmp_path, emulator.url, source=PROGRAMS / "declared_connection", name="uses", env=env
        )
        consumer.run("config", "set", "producerStack", "organization/tokens/dev")
        consumer.spec(SPEC)
        consumer.up()
        # One program, two OnCalls: stack config's and the declared one.
        assert set(oncall.live()) == {"From config"}
        assert set(there.live()) == {"Declared"}
        assert there.live()["Declared"]["team_id"] == TEAM_PLATFORM
        shown = json.loads(consumer.run("stack", "output", "--json").stdout)
        assert shown["declared_team"] == TEAM_PLATFORM  # a lookup's result is no secret
        consumer.assert_no_changes()

        state = raw_state(consumer)
        assert OLD not in state and "ciphertext" in state
        assert declared_token(consumer) == OLD

        # Rotation: the producer exports a new token, and the old one is revoked.
        producer.run("config", "set", "--secret", "oncallToken", NEW)
        producer.up()
        second.stop()
        second.tokens = second.tokens[1:]
        second.token = NEW
        second.start()
        consumer.up()
        log = there.api_requests()
        assert log and [r for r in log if r["method"] != "GET"] == []
        assert declared_token(consumer) == NEW
        # A refresh without the program: the engine alone keeps the connection a secret.
        consumer.run("refresh", "--yes", "--skip-preview")
        assert NEW not in raw_state(consumer)
        assert declared_token(consumer) == NEW
        consumer.assert_no_changes()

        there.clear_requests()
        consumer.run("destroy", "--yes", "--skip-preview")
        assert [r["method"] for r in there.api_requests() if r["method"] != "GET"] == ["DELETE"]
        assert there.live() == {} and oncall.live() == {}
        state = raw_state(consumer)
        for text in (state, *consumer.output, *producer.output):
            assert OLD not in text and NEW not in text
