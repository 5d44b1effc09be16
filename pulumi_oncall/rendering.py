"""Placeholder: the `render` command is being built."""

from __future__ import annotations

import argparse


def configure_parser(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace, extra: list[str]) -> int:
    raise SystemExit("not available yet")
