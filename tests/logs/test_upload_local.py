"""`ncctl logs upload|status|prune` with local-directory destinations, and the logs lock."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import wait_for
from tests.logs.helpers import NO_DAC_OVERRIDE, TRADE_DATE, run, write_config

pytestmark = pytest.mark.slow

NAME = f"audit.{TRADE_DATE}.csv.gz"


def rotated(tmp_path: Path, **kw: object) -> Path:
    config = write_config(tmp_path, **kw)  # type: ignore[arg-type]
    (tmp_path / "live" / "audit.csv").write_bytes(b"row\n" * 5000)
    assert run(config, "logs", "rotate")[0] == 0
    return config


def test_upload_to_two_destinations_then_status_shows_both_verified(tmp_path: Path) -> None:
    config = rotated(tmp_path)
    code, doc, _ = run(config, "logs", "status")
    assert code == 0  # the trade date that closed last may still be pending
    assert {d["state"] for d in doc["data"]["files"][0]["destinations"].values()} == {"pending"}
    code, doc, _ = run(config, "logs", "upload")
    assert code == 0, doc
    assert {(u["destination"], u["state"]) for u in doc["data"]["uploads"]} == {
        ("fcm", "verified"),
        ("client", "verified"),
    }
    archive = (tmp_path / "archive" / "audit" / NAME).read_bytes()
    for dest in ("fcm", "client"):
        assert (tmp_path / "outbox" / dest / NAME).read_bytes() == archive
        assert not list((tmp_path / "outbox" / dest).glob("*.part"))
    code, doc, _ = run(config, "logs", "status")
    states = doc["data"]["files"][0]["destinations"]
    assert {k: v["state"] for k, v in states.items()} == {"fcm": "verified", "client": "verified"}
    assert {v["verified_by"] for v in states.values()} == {"readback"}
    code, doc, _ = run(config, "logs", "upload")  # nothing left: a no-op
    assert code == 0 and doc["data"]["uploads"] == []


def test_a_conflicting_remote_file_is_never_overwritten(tmp_path: Path) -> None:
    config = rotated(tmp_path)
    other = tmp_path / "outbox" / "fcm" / NAME
    other.parent.mkdir(parents=True)
    other.write_bytes(b"somebody else's file")
    code, doc, _ = run(config, "logs", "upload")
    assert code == 1 and doc["error"]["code"] == "upload.failed"
    by_dest = {u["destination"]: u for u in doc["data"]["uploads"]}
    assert by_dest["fcm"]["state"] == "failed"
    assert by_dest["fcm"]["error"]["code"] == "upload.conflict"
    assert by_dest["client"]["state"] == "verified"
    assert other.read_bytes() == b"somebody else's file"
    code, doc, _ = run(config, "logs", "status", clock="2026-11-27T16:05")
    assert code == 1 and doc["error"]["code"] == "logs.overdue"  # older than a trading day


def test_an_interrupted_part_file_is_resumed(tmp_path: Path) -> None:
    config = rotated(tmp_path, destinations={"fcm": "outbox/fcm"})
    archive = (tmp_path / "archive" / "audit" / NAME).read_bytes()
    part = tmp_path / "outbox" / "fcm" / f"{NAME}.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(archive[: len(archive) // 2] + b"torn tail")
    code, doc, _ = run(config, "logs", "upload")
    assert code == 0, doc
    assert (tmp_path / "outbox" / "fcm" / NAME).read_bytes() == archive
    assert not part.exists()


def test_permission_denied_at_the_destination_keeps_the_file_pending(tmp_path: Path) -> None:
    """Run without CAP_DAC_OVERRIDE (root otherwise ignores directory modes)."""
    config = rotated(tmp_path, destinations={"fcm": "outbox/fcm"})
    outbox = tmp_path / "outbox" / "fcm"
    outbox.mkdir(parents=True)
    outbox.chmod(0o555)
    code, doc, _ = run(config, "logs", "upload", wrapper=NO_DAC_OVERRIDE)
    assert code == 1, doc
    [upload] = doc["data"]["uploads"]
    assert upload["error"]["code"] == "permission"
    assert "Permission denied" in upload["error"]["message"]
    code, doc, _ = run(config, "logs", "status")
    assert doc["data"]["files"][0]["destinations"]["fcm"]["state"] == "failed"
    outbox.chmod(0o755)
    code, doc, _ = run(config, "logs", "upload", wrapper=NO_DAC_OVERRIDE)
    assert code == 0 and doc["data"]["uploads"][0]["state"] == "verified"


def test_prune_deletes_only_verified_archives_past_retention(tmp_path: Path) -> None:
    config = rotated(tmp_path, retain_days=30)
    archive = tmp_path / "archive" / "audit" / NAME
    code, doc, _ = run(config, "logs", "prune", clock="2027-02-01T10:00")
    assert code == 0 and doc["data"]["removed"] == []  # not verified yet: kept
    assert archive.exists()
    assert run(config, "logs", "upload")[0] == 0
    code, doc, _ = run(config, "logs", "prune", clock="2026-12-10T10:00")
    assert doc["data"]["removed"] == []  # verified, but younger than 30 days
    code, doc, _ = run(config, "logs", "prune", "--dry-run", clock="2027-02-01T10:00")
    assert len(doc["data"]["removed"]) == 1 and archive.exists()
    code, doc, _ = run(config, "logs", "prune", clock="2027-02-01T10:00")
    assert code == 0 and len(doc["data"]["removed"]) == 1
    assert not archive.exists()
    assert not archive.with_name(NAME + ".sha256").exists()
    assert (tmp_path / "outbox" / "fcm" / NAME).exists()  # remote copies are not ours to delete


HOLDER = """
import sys
from pathlib import Path
from ncctl.locks import hold
with hold(Path(sys.argv[1]), "logs", 1.0, "test holder"):
    print("held", flush=True)
    sys.stdin.readline()
"""


def test_a_second_run_waits_then_exits_75_naming_the_holder(tmp_path: Path) -> None:
    config = rotated(tmp_path)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path / "state")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        code, doc, _ = run(config, "logs", "upload")
        assert code == 75
        assert doc["error"]["code"] == "lock.busy"
        assert f"pid {holder.pid}" in doc["error"]["message"]
        assert "test holder" in doc["error"]["message"]
    finally:
        assert holder.stdin is not None
        holder.stdin.write("\n")
        holder.stdin.close()
        holder.wait(timeout=30)
    wait_for(lambda: run(config, "logs", "upload")[0] == 0, 10, "an upload that succeeds")
