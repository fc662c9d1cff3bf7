"""`ncctl logs upload` to an SFTP destination (a real OpenSSH sshd) and a local one at once."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tests.logs.helpers import FORCED, TRADE_DATE, run, write_config
from tests.sshd import SshServer

pytestmark = pytest.mark.slow

NAME = f"audit.{TRADE_DATE}.csv.gz"


def config_with_sftp(
    tmp_path: Path,
    sshd: SshServer,
    remote_dir: Path,
    *,
    also_local: bool = False,
    known_hosts: Path | None = None,
) -> Path:
    """A configuration whose audit files go to the test sshd as `fcm` (and to a local
    directory as `client` when ``also_local``)."""
    sftp = sshd.destination_config(remote_dir)
    extra = (
        "[destinations.fcm]\n"
        f'url = "{sftp.url}"\n'
        f'key_file = "{sftp.key_file}"\n'
        f'known_hosts = "{known_hosts or sftp.known_hosts}"\n'
        "timeout_s = 10\nretries = 0\nbackoff_s = 0\n"
    )
    config = write_config(tmp_path, destinations={"client": "outbox/client"}, extra=extra)
    wanted = '["fcm", "client"]' if also_local else '["fcm"]'
    config.write_text(
        config.read_text().replace('destinations = ["client"]', f"destinations = {wanted}")
    )
    return config


def test_sftp_and_file_destinations_at_once_then_both_verified(
    tmp_path: Path, sshd: SshServer, remote_dir: Path
) -> None:
    config = config_with_sftp(tmp_path, sshd, remote_dir, also_local=True)
    (tmp_path / "live" / "audit.csv").write_bytes(b"row\n" * 100_000)
    assert run(config, "logs", "rotate", *FORCED)[0] == 0
    code, doc, _ = run(config, "logs", "upload", *FORCED)
    assert code == 0, doc
    assert {(u["destination"], u["state"], u["verified_by"]) for u in doc["data"]["uploads"]} == {
        ("fcm", "verified", "readback"),
        ("client", "verified", "readback"),
    }
    archive = (tmp_path / "archive" / "audit" / NAME).read_bytes()
    assert (remote_dir / NAME).read_bytes() == archive
    assert (tmp_path / "outbox" / "client" / NAME).read_bytes() == archive
    assert sorted(p.name for p in remote_dir.iterdir()) == [NAME]  # no .part left
    code, doc, _ = run(config, "logs", "status")
    assert code == 0
    [entry] = doc["data"]["files"]
    assert entry["sha256"] == hashlib.sha256(archive).hexdigest()
    assert {k: v["state"] for k, v in entry["destinations"].items()} == {
        "fcm": "verified",
        "client": "verified",
    }


def test_a_changed_host_key_is_refused_and_the_file_stays_pending(
    tmp_path: Path, sshd: SshServer, remote_dir: Path
) -> None:
    wrong = tmp_path / "known_hosts"
    wrong.write_text(
        f"[{sshd.host}]:{sshd.port} ssh-ed25519 "
        "AAAAC3NzaC1lZDI1NTE5AAAAIB3z0FfM7H5UZk0h2o6f1r1nq0j1C0QmL7mV6o5n9dYp\n"
    )
    config = config_with_sftp(tmp_path, sshd, remote_dir, known_hosts=wrong)
    (tmp_path / "live" / "audit.csv").write_text("row\n")
    assert run(config, "logs", "rotate", *FORCED)[0] == 0
    code, doc, _ = run(config, "logs", "upload", *FORCED)
    assert code == 1
    [upload] = doc["data"]["uploads"]
    assert upload["error"]["code"] == "sftp.host_key"
    assert "SHA256:" in upload["error"]["message"]
    assert list(remote_dir.iterdir()) == []  # nothing written on a server we do not trust
    code, doc, _ = run(config, "logs", "status")
    assert doc["data"]["files"][0]["destinations"]["fcm"]["state"] == "failed"


def test_killed_mid_transfer_to_sftp_then_resumed(
    tmp_path: Path, sshd: SshServer, remote_dir: Path
) -> None:
    import os

    config = config_with_sftp(tmp_path, sshd, remote_dir)
    (tmp_path / "live" / "audit.csv").write_bytes(os.urandom(8 * 1024 * 1024))
    assert run(config, "logs", "rotate", *FORCED)[0] == 0
    code, _, _ = run(config, "logs", "upload", *FORCED, env={"NCCTL_CRASH_AT": "upload.mid_send"})
    assert code == -9
    part = remote_dir / f"{NAME}.part"
    assert part.exists() and not (remote_dir / NAME).exists()
    code, doc, _ = run(config, "logs", "upload", *FORCED)
    assert code == 0, doc
    [upload] = doc["data"]["uploads"]
    assert upload["state"] == "verified" and upload["resumed_from"] > 0
    assert (remote_dir / NAME).read_bytes() == (tmp_path / "archive" / "audit" / NAME).read_bytes()
    assert sorted(p.name for p in remote_dir.iterdir()) == [NAME]
