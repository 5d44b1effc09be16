"""Running the emulator as a subprocess, for tests and scripts."""

from __future__ import annotations

import atexit
import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from .constants import (
    ADMIN_HEADER,
    ADMIN_PREFIX,
    ADMIN_SECRET_ENV,
    GRAFANA_URL_HEADER,
    LISTENING,
    SERVICE_ACCOUNT_PREFIX,
    SERVICE_ACCOUNT_TOKENS_ENV,
    SERVICE_ACCOUNT_VIEWER_TOKENS_ENV,
    TOKENS_ENV,
    VIEWER_TOKENS_ENV,
)

# The directory holding the pulumi_oncall package, for the child's import path.
_PROJECT_ROOT = str(Path(__file__).resolve().parents[2])


class EmulatorError(RuntimeError):
    pass


class EmulatorProcess:
    """`python -m pulumi_oncall.emulator` on 127.0.0.1 in a subprocess (a free port by default).

    Tokens and the admin secret reach the child through its environment, never
    its command line. Use as a context manager, or call start() and stop().

        with EmulatorProcess(token="t", seed={"teams": [...]}) as emu:
            httpx.get(emu.url + "/api/v1/integrations/", headers={"Authorization": "t"})
    """

    def __init__(
        self,
        token: str | Sequence[str] = "test-token",
        *,
        viewer_tokens: Sequence[str] = (),
        service_account_tokens: Sequence[str] = (),
        service_account_viewer_tokens: Sequence[str] = (),
        grafana_url: str | None = None,
        admin_secret: str | None = None,
        seed: Mapping[str, Any] | str | os.PathLike[str] | None = None,
        db: str | os.PathLike[str] | None = None,
        extra_args: Sequence[str] = (),
        port: int = 0,
        start_timeout: float = 15.0,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.tokens: tuple[str, ...] = (token,) if isinstance(token, str) else tuple(token)
        self.viewer_tokens = tuple(viewer_tokens)
        self.service_account_tokens = tuple(service_account_tokens)
        self.service_account_viewer_tokens = tuple(service_account_viewer_tokens)
        self.grafana_url = grafana_url
        if not self.tokens:
            raise ValueError("at least one admin token is needed")
        every = (
            self.tokens
            + self.viewer_tokens
            + self.service_account_tokens
            + self.service_account_viewer_tokens
        )
        if any("," in t or not t for t in every):
            # They travel comma-separated in the environment.
            raise ValueError("tokens must be non-empty and contain no comma")
        self.token = self.tokens[0]
        self.admin_secret = admin_secret
        self.seed = seed
        self.db = db
        self.extra_args = tuple(extra_args)
        self.port = port
        self.start_timeout = start_timeout
        self.env = dict(env or {})
        self.url = ""
        self._proc: subprocess.Popen[str] | None = None
        self._stderr_path: str | None = None
        self._last_stderr = ""
        self._seed_file: str | None = None
        self._http: httpx.Client | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> EmulatorProcess:
        if self._proc is not None:
            raise EmulatorError("already started")
        try:
            self._spawn()
            self.url = self._wait_listening()
        except BaseException:
            self.stop()
            raise
        atexit.register(self.stop)
        return self

    def _command(self) -> list[str]:
        cmd = [sys.executable, "-m", "pulumi_oncall.emulator", "--host", "127.0.0.1"]
        cmd += ["--port", str(self.port)]
        if self.seed is not None:
            if isinstance(self.seed, Mapping):
                fd, self._seed_file = tempfile.mkstemp(prefix="oncall-seed-", suffix=".json")
                with os.fdopen(fd, "w", encoding="utf-8") as f:
                    json.dump(self.seed, f)
                cmd += ["--seed", self._seed_file]
            else:
                cmd += ["--seed", os.fspath(self.seed)]
        if self.db is not None:
            cmd += ["--db", os.fspath(self.db)]
        if self.grafana_url is not None:
            cmd += ["--grafana-url", self.grafana_url]
        return cmd + list(self.extra_args)

    def _child_env(self) -> dict[str, str]:
        env = {**os.environ, **self.env}
        env[TOKENS_ENV] = ",".join(self.tokens)
        env[VIEWER_TOKENS_ENV] = ",".join(self.viewer_tokens)
        env[SERVICE_ACCOUNT_TOKENS_ENV] = ",".join(self.service_account_tokens)
        env[SERVICE_ACCOUNT_VIEWER_TOKENS_ENV] = ",".join(self.service_account_viewer_tokens)
        if self.admin_secret:
            env[ADMIN_SECRET_ENV] = self.admin_secret
        else:
            env.pop(ADMIN_SECRET_ENV, None)
        path = env.get("PYTHONPATH")
        env["PYTHONPATH"] = _PROJECT_ROOT + (os.pathsep + path if path else "")
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def _spawn(self) -> None:
        # A file, not a pipe: nobody drains stderr while the emulator runs. Appended
        # to by the child and read by path, so reading never moves the child's offset.
        fd, self._stderr_path = tempfile.mkstemp(prefix="oncall-emulator-", suffix=".err")
        os.close(fd)
        with open(self._stderr_path, "ab") as stderr:
            self._proc = subprocess.Popen(
                self._command(),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=stderr,
                env=self._child_env(),
                text=True,
            )

    def _wait_listening(self) -> str:
        assert self._proc is not None and self._proc.stdout is not None
        lines: queue.Queue[str] = queue.Queue()
        stdout = self._proc.stdout

        def read() -> None:
            # Drains stdout until the process ends, then closes the pipe.
            with stdout:
                for line in stdout:
                    lines.put(line)

        threading.Thread(target=read, name="oncall-emulator-stdout", daemon=True).start()
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            try:
                line = lines.get(timeout=0.05)
            except queue.Empty:
                if self._proc.poll() is not None:
                    time.sleep(0.05)  # let stderr settle
                    raise EmulatorError(
                        f"emulator exited with {self._proc.returncode}:\n{self.stderr_text()}"
                    ) from None
                continue
            if line.startswith(LISTENING):
                return line[len(LISTENING) :].strip()
        raise EmulatorError(
            f"emulator not listening after {self.start_timeout}s:\n{self.stderr_text()}"
        )

    def stderr_text(self) -> str:
        """The process's stderr so far, or that of its last run once stopped."""
        if self._stderr_path is None:
            return self._last_stderr
        return Path(self._stderr_path).read_text(encoding="utf-8", errors="replace")

    def stop(self, timeout: float = 5.0) -> int | None:
        """Terminate (SIGTERM, then SIGKILL after `timeout`) and wait. Idempotent."""
        atexit.unregister(self.stop)
        proc, self._proc = self._proc, None
        code: int | None = None
        if proc is not None:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            code = proc.returncode
        if self._stderr_path is not None:
            self._last_stderr = self.stderr_text()
            Path(self._stderr_path).unlink(missing_ok=True)
            self._stderr_path = None
        if self._seed_file is not None:
            Path(self._seed_file).unlink(missing_ok=True)
            self._seed_file = None
        if self._http is not None:
            self._http.close()
            self._http = None
        return code

    def restart(self) -> EmulatorProcess:
        """Stop and start again with the same arguments (a new port)."""
        self.stop()
        return self.start()

    def headers(self, token: str | None = None) -> dict[str, str]:
        """Authorization with `token` (default: the first admin token), and the stack's
        X-Grafana-URL beside a service-account token."""
        token = token if token is not None else self.token
        headers = {"Authorization": token}
        if token.startswith(SERVICE_ACCOUNT_PREFIX) and self.grafana_url is not None:
            headers[GRAFANA_URL_HEADER] = self.grafana_url
        return headers

    def client(self, token: str | None = None, **kwargs: Any) -> httpx.Client:
        """An httpx client on the emulator, authenticated as `headers(token)`."""
        return httpx.Client(base_url=self.url, headers=self.headers(token), **kwargs)

    def admin(
        self,
        method: str,
        path: str,
        json: Any = None,
        params: Mapping[str, str] | None = None,
    ) -> Any:
        """Call an admin endpoint (`"faults"` or `"/emulator/faults"`); the decoded body.

        Raises EmulatorError on a non-2xx answer.
        """
        if not path.startswith("/"):
            path = ADMIN_PREFIX + path
        headers = {ADMIN_HEADER: self.admin_secret} if self.admin_secret else {}
        if self._http is None:
            # Reused: building a client (its TLS context) costs more than a local request.
            self._http = httpx.Client(timeout=10.0)
        response = self._http.request(
            method, self.url + path, json=json, params=params, headers=headers
        )
        if not response.is_success:
            raise EmulatorError(f"{method} {path}: {response.status_code} {response.text}")
        return response.json() if response.content else None

    def __enter__(self) -> EmulatorProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
