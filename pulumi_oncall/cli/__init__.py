"""`python -m pulumi_oncall COMMAND --help` describes each command.

up, preview, refresh, destroy   run a Pulumi program, against a local emulator
                                when no OnCall is configured
export                          write a program that adopts existing integrations
render                          render templates as OnCall would, without any API
"""

from __future__ import annotations

import argparse
import importlib
import sys

# Command -> (module, one-line help). Each module has configure_parser() and run().
COMMANDS: dict[str, tuple[str, str]] = {
    "up": ("run", "pulumi up of the program (emulator when no OnCall is configured)"),
    "preview": ("run", "pulumi preview of the program"),
    "refresh": ("run", "pulumi refresh of the program"),
    "destroy": ("run", "pulumi destroy of the program"),
    "export": ("export", "write a Pulumi program that adopts existing integrations"),
    "render": ("render", "render templates against sample alerts, as OnCall would"),
}


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="python -m pulumi_oncall",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = root.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module, help_) in COMMANDS.items():
        sub = commands.add_parser(name, help=help_, description=help_)
        importlib.import_module(f"pulumi_oncall.cli.{module}").configure_parser(sub)
    return root


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # Everything after `--` goes to pulumi untouched.
    split = argv.index("--") if "--" in argv else len(argv)
    args = parser().parse_args(argv[:split])
    module = importlib.import_module(f"pulumi_oncall.cli.{COMMANDS[args.command][0]}")
    code: int = module.run(args, argv[split + 1 :])
    return code
