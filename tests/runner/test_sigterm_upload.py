"""SIGTERM during an upload: the next run resumes the transfer where it stopped."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.helpers import ncctl_command
from tests.logs.helpers import run, write_config

pytestmark = pytest.mark.slow


def test_sigterm_mid_upload_then_the_next_run_resumes(tmp_path: Path) -> None:
    config = write_config(tmp_path, compress="none", destinations={"fcm": "outbox/fcm"})
    (tmp_path / "live" / "audit.csv").write_bytes(os.urandom(48 * 1024 * 1024))
    assert run(config, "logs", "rotate")[0] == 0
    part = tmp_path / "outbox" / "fcm" / "audit.20261125.csv.part"
    proc = subprocess.Popen(
        ncctl_command("--config", config, "--clock", "2026-11-25T16:05", "logs", "upload"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if part.exists() and part.stat().st_size > 4 * 1024 * 1024:
            proc.send_signal(signal.SIGTERM)
            break
        time.sleep(0.001)
    assert proc.wait(timeout=60) == -signal.SIGTERM, "the upload finished before SIGTERM"
    assert part.exists() and not part.with_suffix("").exists()
    code, doc, _ = run(config, "logs", "upload")
    assert code == 0, doc
    [upload] = doc["data"]["uploads"]
    assert upload["state"] == "verified" and upload["resumed_from"] > 0
    final = tmp_path / "outbox" / "fcm" / "audit.20261125.csv"
    assert final.read_bytes() == (tmp_path / "archive" / "audit" / final.name).read_bytes()
