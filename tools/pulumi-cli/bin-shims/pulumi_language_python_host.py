"""Stand-in for Pulumi's Go `pulumi-language-python` language host.

The Go module proxy does not serve the official host's module, so this implements the
same LanguageRuntime gRPC service with the Python SDK's generated stubs. Like the
official host, `Run` executes each program in a fresh interpreter through
`pulumi-language-python-exec` (copied next to this file from the SDK module we build),
so programs see exactly the runtime setup they would see under the official CLI.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

try:
    import grpc
    from google.protobuf import empty_pb2
    from google.protobuf.json_format import MessageToDict
    from pulumi.runtime.proto import language_pb2, language_pb2_grpc, plugin_pb2
except ImportError as exc:
    sys.exit(
        f"pulumi-language-python: {sys.executable} cannot import the pulumi SDK ({exc}). "
        "Set PULUMI_PYTHON_CMD, or runtime.options.virtualenv in Pulumi.yaml."
    )

VERSION = "3.260.0"
HERE = Path(__file__).resolve().parent
EXEC_SCRIPT = HERE / "pulumi-language-python-exec"
# The exec script uses this exit code after it already showed the error to the user.
EXIT_ERROR_ALREADY_REPORTED = 32
# Go-style flags the engine may pass that take a separate value (`--tracing URL`).
VALUE_FLAGS = {"tracing", "root", "use-executor", "binary", "v"}


def parse_engine_address(argv: list[str]) -> str:
    """Return the engine address: the last positional argument; unknown flags are ignored."""
    positional: list[str] = []
    skip_next = False
    for arg in argv:
        if skip_next:
            skip_next = False
        elif arg.startswith("-") and len(arg) > 1:
            name = arg.lstrip("-")
            skip_next = "=" not in name and name in VALUE_FLAGS
        else:
            positional.append(arg)
    return positional[-1] if positional else ""


def program_python(info: language_pb2.ProgramInfo) -> str:
    """Same choice as our dynamic-provider shim: PULUMI_PYTHON_CMD, virtualenv, this Python."""
    cmd = os.environ.get("PULUMI_PYTHON_CMD")
    if cmd:
        return cmd
    options: dict[str, Any] = MessageToDict(info.options) if info.HasField("options") else {}
    venv = options.get("virtualenv") or os.environ.get("PULUMI_RUNTIME_VIRTUALENV")
    if venv:
        root = Path(info.root_directory or os.getcwd())
        python = (root / str(venv)).resolve() / "bin" / "python"
        if python.exists():
            return str(python)
        raise FileNotFoundError(f"virtualenv python {python} does not exist")
    return sys.executable


class PythonLanguageHost(language_pb2_grpc.LanguageRuntimeServicer):
    def __init__(self, engine_address: str) -> None:
        self.engine_address = engine_address

    def Handshake(self, request: Any, context: Any) -> Any:
        if request.engine_address:
            self.engine_address = request.engine_address
        return language_pb2.LanguageHandshakeResponse()

    def GetPluginInfo(self, request: Any, context: Any) -> Any:
        return plugin_pb2.PluginInfo(version=VERSION)

    # Plugins are never installed from here: dynamic providers ship with the CLI.
    def GetRequiredPlugins(self, request: Any, context: Any) -> Any:
        return language_pb2.GetRequiredPluginsResponse()

    def GetRequiredPackages(self, request: Any, context: Any) -> Any:
        return language_pb2.GetRequiredPackagesResponse()

    def GetProgramDependencies(self, request: Any, context: Any) -> Any:
        return language_pb2.GetProgramDependenciesResponse()

    def InstallDependencies(self, request: Any, context: Any) -> Iterator[Any]:
        # Dependencies are managed by the project's own venv, never by the CLI.
        yield from ()

    def About(self, request: Any, context: Any) -> Any:
        v = sys.version_info
        return language_pb2.AboutResponse(
            executable=sys.executable, version=f"{v.major}.{v.minor}.{v.micro}"
        )

    def Cancel(self, request: Any, context: Any) -> Any:
        return empty_pb2.Empty()

    def Run(self, request: Any, context: Any) -> Any:
        info = request.info
        program_dir = Path(info.program_directory or request.pwd or os.getcwd())
        entry = info.entry_point or request.program or "."
        program = (program_dir / entry).resolve()
        pwd = request.pwd or str(program_dir)
        try:
            python = program_python(info)
        except FileNotFoundError as exc:
            return language_pb2.RunResponse(error=str(exc))

        args = [
            python,
            "-u",
            str(EXEC_SCRIPT),
            "--monitor", request.monitor_address,
            "--engine", self.engine_address,
            "--project", request.project,
            "--stack", request.stack,
            "--pwd", pwd,
            "--dry_run", "true" if request.dryRun else "false",
            "--parallel", str(request.parallel),
            "--root_directory", info.root_directory or pwd,
        ]  # fmt: skip
        if request.organization:
            args += ["--organization", request.organization]
        args += [str(program), *request.args]

        env = dict(os.environ)
        env["PULUMI_CONFIG"] = json.dumps(dict(request.config))
        env["PULUMI_CONFIG_SECRET_KEYS"] = json.dumps(list(request.configSecretKeys))
        if program.is_file():
            # runpy only puts a directory entry point on sys.path; do the same for a file.
            env["PYTHONPATH"] = os.pathsep.join(
                p for p in (str(program.parent), env.get("PYTHONPATH", "")) if p
            )
        # The program's stdout/stderr are ours: the engine shows them as diagnostics.
        sys.stdout.flush()
        rc = subprocess.call(args, cwd=pwd, env=env)
        if rc == 0:
            return language_pb2.RunResponse()
        if rc == EXIT_ERROR_ALREADY_REPORTED:
            return language_pb2.RunResponse(bail=True)
        return language_pb2.RunResponse(error=f"Program exited with non-zero exit code: {rc}")


def main() -> None:
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=8),
        options=[("grpc.max_receive_message_length", 400 * 1024 * 1024)],
    )
    language_pb2_grpc.add_LanguageRuntimeServicer_to_server(
        PythonLanguageHost(parse_engine_address(sys.argv[1:])), server
    )
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    # The engine reads the port from our first line of stdout.
    print(port, flush=True)
    # The engine interrupts its plugins on shutdown: stop quietly, no traceback.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: server.stop(0))
    server.wait_for_termination()


if __name__ == "__main__":
    main()
