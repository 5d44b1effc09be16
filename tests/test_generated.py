"""What derives from the schema tree is regenerated, never edited by hand."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pulumi_oncall
from pulumi_oncall import _schema as schema

ROOT = Path(__file__).resolve().parents[1]


def test_generated_files_are_up_to_date() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "generate.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


def test_every_object_of_the_tree_has_an_exported_typeddict_with_its_fields() -> None:
    for path, node in schema.walk():
        if node.kind != "object":
            continue
        assert node.type_name in pulumi_oncall.__all__, path
        typed = getattr(pulumi_oncall, node.type_name)
        assert tuple(typed.__annotations__) == node.keys, path


def test_secret_outputs_and_their_docs_come_from_the_tree() -> None:
    for node in schema.OUTPUTS:
        assert ("secret" in node.doc.lower()) == node.secret, node.name
