"""`/metrics` over TLS: real HTTPS scrapes on loopback with certificates made for the test.

A CA signs the server's certificate and a client certificate; a second CA signs a rogue
client certificate. With ``tls_client_ca`` only the first client is answered; without a
certificate, with the rogue one, or in plain HTTP nothing is served. A client that connects
and stays silent does not hold up other scrapes. Bad files are one-line errors naming their
key (exit 78), and a listen address beyond loopback needs TLS.
"""

from __future__ import annotations

import http.client
import os
import socket
import ssl
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Gauge
from pydantic import ValidationError

from ncctl.addresses import is_loopback
from ncctl.appconfig.sections import MetricsConfig, MetricsTls
from ncctl.cli.main import main
from ncctl.errors import EXIT_CONFIG, ConfigError
from ncctl.metrics.server import MetricsServer, serve
from tests.tls import Authority, Issued, make_authority, write_key

TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Pki:
    ca: Authority
    server: Issued
    client: Issued
    rogue_client: Issued


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    base = tmp_path_factory.mktemp("pki")
    ca = make_authority(base / "ca", "metrics-ca")
    rogue = make_authority(base / "rogue", "rogue-ca")
    return Pki(
        ca=ca,
        server=ca.issue("server", server=True),
        client=ca.issue("prometheus", server=False),
        rogue_client=rogue.issue("intruder", server=False),
    )


def registry() -> CollectorRegistry:
    reg = CollectorRegistry(auto_describe=True)
    gauge = Gauge("ncctl_tls_probe", "A value only a scrape can see.", registry=reg)
    gauge.set(42)
    return reg


@pytest.fixture
def mtls_server(pki: Pki) -> Iterator[MetricsServer]:
    tls = MetricsTls(pki.server.cert, pki.server.key, pki.ca.cert)
    with serve(registry(), "127.0.0.1", 0, tls=tls) as server:
        yield server


def client_context(pki: Pki, cert: Issued | None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(pki.ca.cert))
    if cert is not None:
        context.load_cert_chain(cert.cert, cert.key)
    return context


def scrape(url: str, context: ssl.SSLContext | None) -> str:
    with urllib.request.urlopen(url, timeout=TIMEOUT_S, context=context) as resp:
        assert resp.status == 200
        return str(resp.read().decode("utf-8"))


@pytest.mark.slow
def test_a_client_with_a_certificate_of_the_ca_is_answered(
    pki: Pki, mtls_server: MetricsServer
) -> None:
    assert mtls_server.url.startswith("https://127.0.0.1:")
    text = scrape(mtls_server.url, client_context(pki, pki.client))
    assert "ncctl_tls_probe 42.0" in text


@pytest.mark.slow
@pytest.mark.parametrize("who", ["no certificate", "rogue certificate", "plain http"])
def test_other_clients_are_refused(pki: Pki, mtls_server: MetricsServer, who: str) -> None:
    url = mtls_server.url
    context: ssl.SSLContext | None = None
    if who == "no certificate":
        context = client_context(pki, None)
    elif who == "rogue certificate":
        context = client_context(pki, pki.rogue_client)
    else:
        url = url.replace("https://", "http://")
    with pytest.raises((OSError, http.client.HTTPException)):
        scrape(url, context)
    # and the server still answers the right client afterwards
    assert "ncctl_tls_probe" in scrape(mtls_server.url, client_context(pki, pki.client))


@pytest.mark.slow
def test_a_silent_client_does_not_hold_up_scrapes(pki: Pki, mtls_server: MetricsServer) -> None:
    silent = [socket.create_connection(("127.0.0.1", mtls_server.port)) for _ in range(3)]
    try:
        for _ in range(3):
            assert "ncctl_tls_probe" in scrape(mtls_server.url, client_context(pki, pki.client))
    finally:
        for sock in silent:
            sock.close()


@pytest.mark.slow
def test_tls_without_client_ca_serves_any_client_over_tls(pki: Pki) -> None:
    tls = MetricsTls(pki.server.cert, pki.server.key, None)
    with serve(registry(), "0.0.0.0", 0, tls=tls) as server:  # beyond loopback: TLS given
        url = f"https://127.0.0.1:{server.port}/metrics"
        assert "ncctl_tls_probe" in scrape(url, client_context(pki, None))
        with pytest.raises((OSError, http.client.HTTPException)):
            scrape(url.replace("https://", "http://"), None)


def test_beyond_loopback_without_tls_is_not_served() -> None:
    with pytest.raises(ConfigError) as caught:
        serve(registry(), "0.0.0.0", 0)
    assert caught.value.exit_code == EXIT_CONFIG
    assert "metrics.listen" in caught.value.message
    assert "tls_cert" in caught.value.hint


# --- bad files ---------------------------------------------------------------------------


def _fail(tls: MetricsTls) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        serve(registry(), "127.0.0.1", 0, tls=tls)
    err = caught.value
    assert err.exit_code == EXIT_CONFIG
    assert "\n" not in err.message
    assert err.hint
    return err


def test_a_key_readable_by_others_is_refused(pki: Pki, tmp_path: Path) -> None:
    for mode in (0o640, 0o604, 0o644):
        key = tmp_path / f"key-{mode:o}"
        key.write_bytes(pki.server.key.read_bytes())
        key.chmod(mode)
        err = _fail(MetricsTls(pki.server.cert, key, None))
        assert "metrics.tls_key" in err.message
        assert f"chmod 600 {key}" == err.hint


def test_missing_files_name_their_key(pki: Pki, tmp_path: Path) -> None:
    missing = tmp_path / "nope.pem"
    assert "metrics.tls_cert" in _fail(MetricsTls(missing, pki.server.key, None)).message
    assert "metrics.tls_key" in _fail(MetricsTls(pki.server.cert, missing, None)).message
    err = _fail(MetricsTls(pki.server.cert, pki.server.key, missing))
    assert "metrics.tls_client_ca" in err.message


def test_links_directories_and_writable_files_are_refused(pki: Pki, tmp_path: Path) -> None:
    link = tmp_path / "key-link"
    link.symlink_to(pki.server.key)
    assert "symbolic link" in _fail(MetricsTls(pki.server.cert, link, None)).message
    assert "regular file" in _fail(MetricsTls(tmp_path, pki.server.key, None)).message
    cert = tmp_path / "writable.crt"
    cert.write_bytes(pki.server.cert.read_bytes())
    cert.chmod(0o666)
    assert "writable" in _fail(MetricsTls(cert, pki.server.key, None)).message


def test_unusable_pem_is_refused(pki: Pki, tmp_path: Path) -> None:
    other = write_key(tmp_path / "other.key", ec.generate_private_key(ec.SECP256R1()))
    assert "metrics.tls_key" in _fail(MetricsTls(pki.server.cert, other, None)).message
    locked = write_key(
        tmp_path / "locked.key",
        ec.generate_private_key(ec.SECP256R1()),
        passphrase=b"correct horse",
    )
    assert "cannot use" in _fail(MetricsTls(pki.server.cert, locked, None)).message
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    garbage.chmod(0o644)
    assert "metrics.tls_cert" in _fail(MetricsTls(garbage, pki.server.key, None)).message
    err = _fail(MetricsTls(pki.server.cert, pki.server.key, garbage))
    assert "metrics.tls_client_ca" in err.message


# --- configuration -----------------------------------------------------------------------


def test_config_refuses_a_public_listen_without_tls(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[metrics]\nlisten = "0.0.0.0"\n')
    before = config.read_bytes()
    assert main(["config", "validate", str(config)]) == EXIT_CONFIG
    err = capsys.readouterr().err
    assert "metrics.listen" in err
    assert "tls_cert" in err
    assert config.read_bytes() == before


def _tls_config(path: Path, pki: Pki, key: Path) -> Path:
    path.write_text(
        f'[metrics]\nlisten = "0.0.0.0"\ntls_cert = "{pki.server.cert}"\n'
        f'tls_key = "{key}"\ntls_client_ca = "{pki.ca.cert}"\n'
    )
    return path


def test_config_validate_checks_the_tls_files(
    pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = _tls_config(tmp_path / "good.toml", pki, pki.server.key)
    assert main(["config", "validate", str(good), "--json"]) == 0
    assert '"metrics_tls": true' in capsys.readouterr().out
    readable = tmp_path / "readable.key"
    readable.write_bytes(pki.server.key.read_bytes())
    readable.chmod(0o644)
    bad = _tls_config(tmp_path / "bad.toml", pki, readable)
    assert main(["config", "validate", str(bad)]) == EXIT_CONFIG
    err = capsys.readouterr().err
    assert err.startswith(f"ncctl: error: {bad}: metrics.tls_key: TLS file {readable}")
    assert f"hint: chmod 600 {readable}" in err


@pytest.mark.parametrize(
    "fields",
    [
        {"tls_cert": "/c"},
        {"tls_key": "/k"},
        {"tls_client_ca": "/ca"},
        {"listen": "::", "tls_cert": "/c"},
        {"listen": "metrics.example.net"},
    ],
)
def test_incomplete_tls_settings_are_config_errors(fields: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        MetricsConfig.model_validate(fields)


def test_complete_tls_settings_validate() -> None:
    cfg = MetricsConfig.model_validate(
        {"listen": "0.0.0.0", "tls_cert": "/c", "tls_key": "/k", "tls_client_ca": "/ca"}
    )
    assert cfg.tls() == MetricsTls(Path("/c"), Path("/k"), Path("/ca"))
    assert MetricsConfig().tls() is None


@given(st.ip_addresses())
def test_loopback_is_127_slash_8_and_colon_colon_1(address: object) -> None:
    text = str(address)
    expected = text == "::1" or text.startswith("127.")
    assert is_loopback(text) == expected
    if not expected:
        with pytest.raises(ValidationError):
            MetricsConfig.model_validate({"listen": text})


def test_keys_are_private_in_the_test_pki(pki: Pki) -> None:
    """The fixture itself: keys 0600, so the refusals above come from the modes they set."""
    for key in (pki.server.key, pki.client.key):
        assert os.stat(key).st_mode & 0o777 == 0o600
