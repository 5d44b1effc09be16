"""An OnCall behind a private CA: the emulator serves HTTPS with a certificate of a CA
made here (with the openssl command), trusted only through the CA bundle setting."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from e2e_support import Project
from emulator_seed import EMULATOR_ARGS, SEED, TEAM_PLATFORM, TOKEN

from pulumi_oncall import _config as config
from pulumi_oncall._client import DeferredTrust, OnCallClient
from pulumi_oncall._connection import connect
from pulumi_oncall._exceptions import TLSError
from pulumi_oncall._provider import SECRET_KEYS, IntegrationProvider
from pulumi_oncall.emulator import EmulatorProcess

EXTENSIONS = """\
subjectAltName=IP:127.0.0.1,DNS:localhost
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid,issuer
"""


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA, and a certificate for 127.0.0.1 that it signed."""
    d = tmp_path_factory.mktemp("pki")
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=pulumi-oncall test CA",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)  # fmt: skip
    openssl("req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1",
            cwd=d)  # fmt: skip
    (d / "ext.cnf").write_text(EXTENSIONS)
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf",
            cwd=d)  # fmt: skip
    return d


@pytest.fixture(scope="module")
def https(pki: Path) -> Iterator[EmulatorProcess]:
    args = ["--tls-cert", str(pki / "server.pem"), "--tls-key", str(pki / "server.key")]
    with EmulatorProcess(token=TOKEN, seed=SEED, extra_args=[*EMULATOR_ARGS, *args]) as emu:
        yield emu


def settings(url: str, **more: str) -> config.Settings:
    values = {"oncall:url": url, "oncall:token": TOKEN, "oncall:retryMaxAttempts": "1", **more}
    return config.load(values.get, {})


def test_the_client_trusts_the_ca_bundle_and_says_what_to_set_without_it(
    https: EmulatorProcess, pki: Path
) -> None:
    assert https.url.startswith("https://")
    trusted = connect(settings(https.url, **{"oncall:caBundle": str(pki / "ca.pem")}))
    assert [t["id"] for t in trusted.client.list_teams()][:1] == [TEAM_PLATFORM]
    with pytest.raises(TLSError) as info:
        connect(settings(https.url)).client.list_teams()
    text = str(info.value)
    assert "TLS failed" in text and "CERTIFICATE_VERIFY_FAILED" in text
    assert "`pulumi config set oncall:caBundle /path/to/ca.pem`" in text
    assert TOKEN not in text


def _context(client: OnCallClient) -> ssl.SSLContext:
    # httpx keeps the context its pool wraps sockets with here.
    context: ssl.SSLContext = client._http._transport._pool._ssl_context  # type: ignore[attr-defined]
    return context


def test_the_default_trust_is_httpx_s_loaded_at_the_first_handshake(
    https: EmulatorProcess, pki: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in ("SSL_CERT_FILE", "SSL_CERT_DIR"):
        monkeypatch.delenv(variable, raising=False)
    deferred, reference = DeferredTrust(), httpx.create_ssl_context()
    assert deferred.cert_store_stats()["x509"] == 0
    deferred.load()
    for setting in ("protocol", "verify_mode", "check_hostname", "verify_flags", "options"):
        assert getattr(deferred, setting) == getattr(reference, setting), setting
    assert (deferred.minimum_version, deferred.maximum_version) == (
        reference.minimum_version,
        reference.maximum_version,
    )
    assert deferred.cert_store_stats() == reference.cert_store_stats()
    assert deferred.get_ca_certs() == reference.get_ca_certs()

    # Plain HTTP never loads it.
    with EmulatorProcess(token=TOKEN, seed=SEED, extra_args=EMULATOR_ARGS) as plain:
        client = OnCallClient(plain.url, TOKEN)
        assert client.list_teams()
        context = _context(client)
        assert isinstance(context, DeferredTrust) and context.cert_store_stats()["x509"] == 0

    # The first handshake loads what SSL_CERT_FILE names, as httpx would.
    monkeypatch.setenv("SSL_CERT_FILE", str(pki / "ca.pem"))
    client = OnCallClient(https.url, TOKEN)
    assert [t["id"] for t in client.list_teams()][:1] == [TEAM_PLATFORM]
    assert _context(client).cert_store_stats()["x509_ca"] == 1


def test_a_declared_connection_with_its_ca_bundle(https: EmulatorProcess, pki: Path) -> None:
    provider = IntegrationProvider()
    provider.configure_from({"oncall:retryMaxAttempts": "1"}.get, {})
    connection: dict[str, Any] = {"url": https.url, "token": TOKEN}
    news = {"type": "webhook", "name": "tls", "team_id": TEAM_PLATFORM, SECRET_KEYS: ["connection"]}
    refused = provider.check({}, {**news, "connection": connection})
    (failure,) = refused.failures
    assert "TLS failed" in failure.reason and "pass ca_bundle= to pulumi_oncall.Connection" in (
        failure.reason
    )
    connection["ca_bundle"] = str(pki / "ca.pem")
    checked = provider.check({}, {**news, "connection": connection})
    assert checked.failures == []
    created = provider.create(checked.inputs)
    provider.delete(created.id, created.outs)


def test_through_the_cli(tmp_path: Path, https: EmulatorProcess, pki: Path) -> None:
    project = Project(tmp_path, https.url)
    project.spec({"corp": {"type": "webhook", "name": "Behind a CA", "team_id": TEAM_PLATFORM}})

    missing = tmp_path / "no-such-ca.pem"
    project.run("config", "set", "oncall:caBundle", str(missing))
    proc = project.run("preview", check=False)
    text = proc.stdout + proc.stderr
    assert proc.returncode != 0 and f"oncall:caBundle: no file at {missing}" in text, text

    project.run("config", "rm", "oncall:caBundle")
    proc = project.run("preview", check=False)
    text = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "CERTIFICATE_VERIFY_FAILED" in text, text
    assert "`pulumi config set oncall:caBundle /path/to/ca.pem`" in text
    assert "Traceback" not in text

    # A relative path is read from the project's directory, as the program's files are.
    (project.dir / "certs").mkdir()
    shutil.copy(pki / "ca.pem", project.dir / "certs" / "ca.pem")
    project.run("config", "set", "oncall:caBundle", "certs/ca.pem")
    project.up()
    ca = ssl.create_default_context(cafile=str(pki / "ca.pem"))
    rows = httpx.get(f"{https.url}/emulator/integrations", verify=ca).json()["integrations"]
    assert [r["name"] for r in rows if not r.get("deleted")] == ["Behind a CA"]
    assert all(TOKEN not in text for text in project.output)
