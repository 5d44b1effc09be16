"""The layers import only downward: the library never imports the command line or the
emulator, and the emulator takes nothing from the library but OnCall's Jinja environment."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "pulumi_oncall"


def imported(path: Path) -> set[str]:
    """Absolute names of the package's modules that `path` imports."""
    tree = ast.parse(path.read_text())
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    package = parts if path.name == "__init__.py" else parts[:-1]
    if path.name == "__init__.py":
        package = parts[:-1]
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            names.add(module)
            names.update(f"{module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
    return {n for n in names if n.startswith("pulumi_oncall")}


def test_the_library_imports_neither_the_command_line_nor_the_emulator() -> None:
    for path in PACKAGE.glob("*.py"):
        if path.name == "__main__.py":
            continue
        bad = {n for n in imported(path) if n.split(".")[1:2] in (["cli"], ["emulator"])}
        assert not bad, (path.name, bad)


def test_the_emulator_takes_only_the_jinja_environment_from_the_library() -> None:
    for path in (PACKAGE / "emulator").glob("*.py"):
        outside = {n for n in imported(path) if not n.startswith("pulumi_oncall.emulator")}
        assert outside <= {
            "pulumi_oncall._templating",
            "pulumi_oncall._templating.compile_error",
        }, (
            path.name,
            outside,
        )


def test_a_program_importing_the_package_loads_no_command_line_module() -> None:
    code = (
        "import sys, pulumi_oncall\n"
        "print(sorted(m for m in sys.modules if m.split('.')[:2] in "
        "(['pulumi_oncall', 'cli'], ['pulumi_oncall', 'emulator'])))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


# What a state written before the internal modules took a leading underscore holds
# in `__provider`: the provider pickled by reference to `pulumi_oncall.provider`.
EARLIER_STATES_PROVIDER = (
    "gASVOAAAAAAAAACMFnB1bHVtaV9vbmNhbGwucHJvdmlkZXKUjBNJbnRlZ3JhdGlvblByb3ZpZGVylJOUKYGUfZRiLg=="
)


def test_a_provider_recorded_by_an_earlier_state_still_loads() -> None:
    # As the SDK's provider host loads it: a fresh interpreter, dill, by reference.
    code = (
        "import base64, sys, dill\n"
        "from pulumi_oncall._provider import IntegrationProvider\n"
        "p = dill.loads(base64.b64decode(sys.argv[1]))\n"
        "assert type(p) is IntegrationProvider, type(p)\n"
        "print(type(p).__module__)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, EARLIER_STATES_PROVIDER],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "pulumi_oncall._provider"


def test_internal_modules_are_private() -> None:
    public = {
        p.stem
        for p in PACKAGE.glob("*.py")
        if not p.stem.startswith("_") and p.stem not in {"provider"}
    }
    assert public == set(), public
