"""Driving a Pulumi project with the real CLI, and checking effects through the OnCall API."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
from emulator_seed import TOKEN
from pulumi_env import pulumi_env, run_pulumi

TESTS = Path(__file__).parent
REPO = TESTS.parent
SPEC_PROGRAM = TESTS / "programs" / "spec_driven"
RESOURCE_TYPE = "pulumi-python:dynamic/oncall:Integration"


class Project:
    """A Pulumi project in a temporary directory, with a `dev` stack on a file backend."""

    def __init__(
        self,
        root: Path,
        url: str,
        token: str = TOKEN,
        source: Path = SPEC_PROGRAM,
        name: str = "oncall-e2e",
        env: dict[str, str] | None = None,
    ) -> None:
        self.dir = root / name
        shutil.copytree(
            source, self.dir, ignore=shutil.ignore_patterns("Pulumi.*.yaml", "__pycache__")
        )
        (self.dir / "Pulumi.yaml").write_text(f"name: {name}\nruntime: python\n")
        self.env = env or pulumi_env(root)
        self.output: list[str] = []
        self.run("stack", "init", "dev")
        self.run("config", "set", "oncall:url", url)
        self.run("config", "set", "--secret", "oncall:token", token)
        self.run("config", "set", "specFile", str(self.dir / "spec.json"))

    def spec(self, integrations: dict[str, Any]) -> None:
        (self.dir / "spec.json").write_text(json.dumps(integrations))

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = run_pulumi(list(args), self.dir, self.env, check=check)
        self.output += [proc.stdout, proc.stderr]
        return proc

    def up(self) -> subprocess.CompletedProcess[str]:
        return self.run("up", "--yes", "--skip-preview")

    def assert_no_changes(self) -> None:
        self.run("preview", "--expect-no-changes", "--diff")

    def outputs(self) -> dict[str, Any]:
        return json.loads(self.run("stack", "output", "--json", "--show-secrets").stdout)

    def state(self) -> dict[str, Any]:
        return json.loads(self.run("stack", "export").stdout)

    def integrations_in_state(self) -> list[dict[str, Any]]:
        resources = self.state()["deployment"].get("resources", [])
        return [r for r in resources if r["type"] == RESOURCE_TYPE]


class OnCall:
    """Direct API access, to verify what Pulumi did."""

    def __init__(self, url: str, token: str = TOKEN) -> None:
        self.url, self.token = url, token

    def get(self, integration_id: str) -> httpx.Response:
        return httpx.get(self._api(integration_id), headers={"Authorization": self.token})

    def live(self) -> dict[str, dict[str, Any]]:
        """Live integrations by name; fails on a duplicate name."""
        rows = httpx.get(f"{self.url}/emulator/integrations").json()["integrations"]
        live = [r for r in rows if not r.get("deleted")]
        names = [r["name"] for r in live]
        assert len(names) == len(set(names)), f"duplicate integrations: {sorted(names)}"
        return {r["name"]: r for r in live}

    def put(self, integration_id: str, body: dict[str, Any]) -> None:
        httpx.put(
            self._api(integration_id), headers={"Authorization": self.token}, json=body
        ).raise_for_status()

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        response = httpx.post(self._api(), headers={"Authorization": self.token}, json=body)
        response.raise_for_status()
        return response.json()

    def delete(self, integration_id: str) -> None:
        httpx.delete(
            self._api(integration_id), headers={"Authorization": self.token}
        ).raise_for_status()

    def api_requests(self) -> list[dict[str, Any]]:
        log = httpx.get(f"{self.url}/emulator/requests").json()["requests"]
        return [r for r in log if r["path"].startswith("/api/")]

    def clear_requests(self) -> None:
        httpx.delete(f"{self.url}/emulator/requests").raise_for_status()

    def _api(self, integration_id: str = "") -> str:
        return f"{self.url}/api/v1/integrations/" + (f"{integration_id}/" if integration_id else "")
