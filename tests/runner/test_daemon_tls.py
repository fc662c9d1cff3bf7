"""`ncctl scheduler run` serving /metrics beyond loopback over mutual TLS, as a real process;
and refusing to start with a TLS key others can read."""

from __future__ import annotations

import json
import signal
import ssl
import subprocess
import urllib.request
from pathlib import Path

import pytest

from tests.helpers import holds_within, ncctl_command, run_process
from tests.logs.helpers import write_config
from tests.tls import make_authority

pytestmark = pytest.mark.slow

SLEEP = '["{python}", "-m", "ncctl.sim.idle"]'  # a simulator: a development setup
DEADLINE_S = 30.0


def _config(tmp_path: Path, key_mode: int = 0o600) -> tuple[Path, ssl.SSLContext]:
    ca = make_authority(tmp_path / "pki", "metrics-ca")
    server = ca.issue("server", server=True)
    client = ca.issue("prometheus", server=False)
    server.key.chmod(key_mode)
    extra = (
        f"[components.feed_handler]\ncommand = {SLEEP}\nstop_timeout_s = 2.0\n"
        f"[components.order_session]\ncommand = {SLEEP}\nstop_timeout_s = 2.0\n"
        "[metrics]\n"
        'listen = "0.0.0.0"\n'
        "port = 0\n"
        f'tls_cert = "{server.cert}"\n'
        f'tls_key = "{server.key}"\n'
        f'tls_client_ca = "{ca.cert}"\n'
    )
    context = ssl.create_default_context(cafile=str(ca.cert))
    context.load_cert_chain(client.cert, client.key)
    return write_config(tmp_path, extra=extra), context


def _stop_all(proc: subprocess.Popen[bytes], config: Path) -> None:
    """The daemon (killed if still running) and the components its passes started."""
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=10)
    for group in ("feed", "session"):
        reason = ("--reason", "test teardown")
        run_process("--config", config, group, "stop", "--force", *reason, cwd=config.parent)


def test_the_daemon_serves_metrics_over_mutual_tls(tmp_path: Path) -> None:
    config, context = _config(tmp_path)
    log = tmp_path / "daemon.log"
    urls: list[str] = []

    def metrics_logged() -> bool:
        text = log.read_text(encoding="utf-8", errors="replace")
        urls[:] = [json.loads(x)["url"] for x in text.splitlines() if '"event": "metrics"' in x]
        return bool(urls) or proc.poll() is not None

    with log.open("w") as log_file:
        proc = subprocess.Popen(
            ncctl_command("--config", config, "scheduler", "run"),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log_file,
        )
    try:
        holds_within(metrics_logged, DEADLINE_S)
        assert urls, log.read_text()
        assert urls[0].startswith("https://0.0.0.0:")
        port = int(urls[0].rsplit(":", 1)[1].split("/")[0])
        url = f"https://127.0.0.1:{port}/metrics"
        with urllib.request.urlopen(url, timeout=10, context=context) as response:
            assert "ncctl_schedule_market_state" in response.read().decode()
        anyone = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # trusts anything, has no certificate
        anyone.check_hostname = False
        anyone.verify_mode = ssl.CERT_NONE
        with pytest.raises(OSError):  # no client certificate: no metrics
            urllib.request.urlopen(url, timeout=10, context=anyone).read()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    finally:
        _stop_all(proc, config)
    assert proc.returncode == 0, log.read_text()


def test_the_daemon_refuses_a_key_others_can_read(tmp_path: Path) -> None:
    config, _ = _config(tmp_path, key_mode=0o644)
    done = run_process("--config", config, "scheduler", "run", cwd=config.parent)
    assert done.code == 78, done.err
    assert "metrics.tls_key" in done.err
    assert "chmod 600" in done.err
    assert not (tmp_path / "state" / "run" / "feed_handler.pid").exists()  # nothing started
