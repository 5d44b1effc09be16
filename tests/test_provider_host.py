"""Our errors reach the CLI as their message alone: the patch of the SDK's dynamic
provider host that makes it so must fail loudly here if the SDK changes under it."""

from __future__ import annotations

import ast
import importlib.util
import sys
import traceback
import types
from pathlib import Path
from typing import Any

import grpc
import pytest

from pulumi_oncall import _provider as provider
from pulumi_oncall._exceptions import OnCallError


class _Context:
    """The part of a gRPC servicer context that the host's wrapper uses."""

    def __init__(self) -> None:
        self.details: str | None = None

    def abort(self, code: Any, details: str) -> None:
        self.details = details


def _host() -> types.ModuleType:
    """The SDK's host module with its error wrapper, without running it: importing
    the real module starts the provider server."""
    spec = importlib.util.find_spec("pulumi.dynamic.__main__")
    assert spec is not None and spec.origin is not None
    tree = ast.parse(Path(spec.origin).read_text())
    names = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    assert {"_abort_with_traceback", "DynamicResourceProviderServicer"} <= names
    (wrapper,) = [
        n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "_abort_with_traceback"
    ]
    host = types.ModuleType("pulumi_dynamic_host")
    host.__dict__.update(traceback=traceback, grpc=grpc, DynamicResourceProviderServicer=object)
    exec(compile(ast.Module([wrapper], []), spec.origin, "exec"), host.__dict__)
    return host


def test_the_host_reports_our_errors_as_their_message_and_others_in_full(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    host = _host()
    monkeypatch.setitem(sys.modules, "__main__", host)
    provider._quiet_tracebacks()

    def ours(self: Any, request: Any, context: Any) -> None:
        raise OnCallError("integration 'x': the clear message")

    def theirs(self: Any, request: Any, context: Any) -> None:
        raise KeyError("unexpected")

    context = _Context()
    host._abort_with_traceback(ours)(None, None, context)
    assert context.details == "integration 'x': the clear message"
    host._abort_with_traceback(theirs)(None, None, context)
    assert context.details is not None and "Traceback" in context.details
