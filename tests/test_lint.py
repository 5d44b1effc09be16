"""The code stays ruff-clean and fully typed (`py.typed` promises it to users)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).parents[1]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=REPO, capture_output=True, text=True)


def test_ruff_check_and_format() -> None:
    check = run("ruff", "check", ".")
    assert check.returncode == 0, check.stdout + check.stderr
    fmt = run("ruff", "format", "--check", ".")
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr


def test_package_type_checks_strictly() -> None:
    result = run("mypy", "--strict", "--ignore-missing-imports", "pulumi_oncall")
    assert result.returncode == 0, result.stdout + result.stderr
