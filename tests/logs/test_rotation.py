"""`ncctl logs rotate`: rename (never copy), trade dates, empty days, reopen, disk full."""

from __future__ import annotations

import csv
import hashlib
import os
import sqlite3
import subprocess
from pathlib import Path

import pytest

from ncctl.sim.order_session import audit_row_seq
from tests.helpers import wait_for
from tests.logs.helpers import TRADE_DATE, gunzip, run, write_config


@pytest.mark.slow
def test_rotate_renames_compresses_and_writes_the_sidecar(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    live = tmp_path / "live" / "audit.csv"
    content = b"header\n" + b"row\n" * 1000
    live.write_bytes(content)
    code, doc, _ = run(config, "logs", "rotate")
    assert code == 0, doc
    [cat] = doc["data"]["categories"]
    assert (cat["action"], cat["trade_date"]) == ("rotated", "2026-11-25")
    final = tmp_path / "archive" / "audit" / f"audit.{TRADE_DATE}.csv.gz"
    assert cat["files"][0]["archive"] == str(final)
    assert gunzip(final) == content
    digest = hashlib.sha256(final.read_bytes()).hexdigest()
    sidecar = final.with_name(final.name + ".sha256").read_text()
    assert sidecar == f"{digest}  {final.name}\n"
    assert cat["files"][0]["sha256"] == digest
    assert not live.exists()  # renamed away; no owner to reopen it here
    assert sorted(p.name for p in final.parent.iterdir()) == [final.name, final.name + ".sha256"]


@pytest.mark.slow
def test_rename_is_a_rename_not_a_copy(tmp_path: Path) -> None:
    config = write_config(tmp_path, compress="none")
    live = tmp_path / "live" / "audit.csv"
    live.write_bytes(os.urandom(4096))
    inode = live.stat().st_ino
    code, _, _ = run(config, "logs", "rotate")
    assert code == 0
    archive = tmp_path / "archive" / "audit" / f"audit.{TRADE_DATE}.csv"
    assert archive.stat().st_ino == inode


@pytest.mark.slow
def test_second_rotation_of_a_trade_date_is_a_no_op(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    (tmp_path / "live" / "audit.csv").write_text("a\n")
    assert run(config, "logs", "rotate")[0] == 0
    (tmp_path / "live" / "audit.csv").write_text("next day's rows\n")
    code, doc, _ = run(config, "logs", "rotate", clock="2026-11-25T16:20")
    assert code == 0
    assert doc["data"]["categories"][0]["action"] == "already"
    assert "already rotated for 2026-11-25" in doc["data"]["categories"][0]["message"]
    assert (tmp_path / "live" / "audit.csv").read_text() == "next day's rows\n"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("clock", "trade_date"),
    [
        ("2026-11-27T16:01", "2026-11-27"),  # Friday after Thanksgiving: early close 12:15
        ("2026-12-24T16:01", "2026-12-24"),  # Christmas Eve: the week ends on Thursday
        ("2026-11-30T10:00", "2026-11-27"),  # Monday morning: Friday's session closed last
        ("2026-03-09T16:01", "2026-03-09"),  # the first Monday of CDT
    ],
)
def test_the_trade_date_is_that_of_the_session_that_closed_last(
    tmp_path: Path, clock: str, trade_date: str
) -> None:
    config = write_config(tmp_path)
    (tmp_path / "live" / "audit.csv").write_text("x\n")
    code, doc, _ = run(config, "logs", "rotate", clock=clock)
    assert code == 0
    assert doc["data"]["categories"][0]["trade_date"] == trade_date
    stamp = trade_date.replace("-", "")
    assert (tmp_path / "archive" / "audit" / f"audit.{stamp}.csv.gz").is_file()


@pytest.mark.slow
def test_an_empty_day_is_recorded_not_skipped(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    code, doc, _ = run(config, "logs", "rotate")
    assert code == 0
    [entry] = doc["data"]["categories"][0]["files"]
    assert entry["empty"] is True
    final = Path(entry["archive"])
    assert gunzip(final) == b""
    code, doc, _ = run(config, "logs", "status")
    assert doc["data"]["files"][0]["empty"] is True


@pytest.mark.slow
def test_dry_run_changes_nothing(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    live = tmp_path / "live" / "audit.csv"
    live.write_text("a\n")
    code, doc, _ = run(config, "logs", "rotate", "--dry-run")
    assert code == 0 and doc["data"]["categories"][0]["action"] == "planned"
    assert live.read_text() == "a\n"
    assert not (tmp_path / "archive").exists()


@pytest.mark.slow
def test_copytruncate_keeps_the_live_inode(tmp_path: Path) -> None:
    config = write_config(tmp_path, mode="copytruncate")
    live = tmp_path / "live" / "audit.csv"
    live.write_text("rows\n")
    inode = live.stat().st_ino
    code, _, _ = run(config, "logs", "rotate")
    assert code == 0
    assert live.stat().st_ino == inode and live.stat().st_size == 0
    assert gunzip(tmp_path / "archive" / "audit" / f"audit.{TRADE_DATE}.csv.gz") == b"rows\n"


def test_zstd_compression(tmp_path: Path) -> None:
    import zstandard

    config = write_config(tmp_path, compress="zstd")
    (tmp_path / "live" / "audit.csv").write_bytes(b"z" * 10000)
    assert run(config, "logs", "rotate")[0] == 0
    final = tmp_path / "archive" / "audit" / f"audit.{TRADE_DATE}.csv.zst"
    assert zstandard.ZstdDecompressor().decompressobj().decompress(final.read_bytes()) == (
        b"z" * 10000
    )


LIMIT_FILE_SIZE = ("prlimit", f"--fsize={160 * 1024}", "--")
"""Room for the manifest's write-ahead log, not for the archive."""


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["rename", "copytruncate"])
def test_local_disk_full_is_a_clear_error_and_loses_nothing(tmp_path: Path, mode: str) -> None:
    config = write_config(tmp_path, mode=mode)
    live = tmp_path / "live" / "audit.csv"
    content = os.urandom(512 * 1024)  # incompressible: gzip output exceeds the limit
    live.write_bytes(content)
    code, doc, _ = run(config, "logs", "rotate", wrapper=LIMIT_FILE_SIZE)
    assert code == 75, doc
    assert doc["error"]["code"] == "rotate.no_space"
    assert "File too large" in doc["error"]["message"] or "space" in doc["error"]["message"]
    archive_dir = tmp_path / "archive" / "audit"
    assert not list(archive_dir.glob(".*tmp"))  # no half-written file left behind
    if mode == "copytruncate":
        assert live.read_bytes() == content  # the live log is untouched
    else:
        assert (archive_dir / f"audit.{TRADE_DATE}.csv").read_bytes() == content
    code, doc, _ = run(config, "logs", "rotate")  # space again: the rotation completes
    assert code == 0, doc
    assert gunzip(archive_dir / f"audit.{TRADE_DATE}.csv.gz") == content


def test_cross_device_archive_is_refused_before_touching_anything(tmp_path: Path) -> None:
    shm = Path("/dev/shm")
    if not shm.is_dir() or shm.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("needs /dev/shm on another file system than the test directory")
    archive = shm / f"ncctl-{os.getpid()}"
    config = write_config(tmp_path)
    old = f'archive_dir = "{tmp_path / "archive"}"'
    config.write_text(config.read_text().replace(old, f'archive_dir = "{archive}"'))
    live = tmp_path / "live" / "audit.csv"
    live.write_text("keep me\n")
    try:
        code, doc, _ = run(config, "logs", "rotate")
        assert code == 73 and doc["error"]["code"] == "rotate.cross_device"
        assert live.read_text() == "keep me\n"
    finally:
        subprocess.run(["rm", "-rf", str(archive)], check=False)


@pytest.mark.slow
def test_owner_reopens_and_no_audit_row_is_lost(tmp_path: Path) -> None:
    """The real order-session simulator writes rows continuously while the file is rotated."""
    live_dir = tmp_path / "live"
    sim = (
        '["{python}", "-m", "ncctl.sim.order_session", '
        f'"--audit-file", "{live_dir / "audit.csv"}", '
        f'"--trade-file", "{live_dir / "trade.log"}", '
        f'"--ion-file", "{live_dir / "session.ion"}", '
        f'"--ready-file", "{tmp_path / "ready"}", "--rate", "400"]'
    )
    extra = (
        "[components.order_session]\n"
        f"command = {sim}\n"
        "[components.order_session.ready]\n"
        f'kind = "file"\npath = "{tmp_path / "ready"}"\n'
    )
    config = write_config(tmp_path, owner="order_session", extra=extra)
    code, doc, _ = run(config, "session", "start", clock="2026-11-25T10:00")
    assert code == 0, doc
    try:
        live = live_dir / "audit.csv"
        wait_for(lambda: live.is_file() and live.stat().st_size > 2000, 20, "the first rows")
        code, doc, _ = run(config, "logs", "rotate")
        assert code == 0, doc
        assert "reopened" in " ".join(doc["data"]["categories"][0]["files"][0]["notes"])
        wait_for(lambda: live.is_file() and live.stat().st_size > 2000, 20, "rows after reopen")
    finally:
        code, doc, _ = run(config, "session", "stop")
        assert code == 0, doc
    archived = gunzip(tmp_path / "archive" / "audit" / f"audit.{TRADE_DATE}.csv.gz")
    seqs: list[int] = []
    for text in (archived.decode(), live.read_text()):
        seqs += [audit_row_seq(r) for r in csv.DictReader(text.splitlines())]
    assert seqs == list(range(1, len(seqs) + 1)), "a row was lost or duplicated"
    assert len(seqs) > 20


def test_a_broken_manifest_is_a_clear_error(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "manifest.sqlite").write_bytes(b"this is not sqlite" * 100)
    code, doc, _ = run(config, "logs", "rotate")
    assert code == 65 and "manifest" in doc["error"]["message"]
    with pytest.raises(sqlite3.DatabaseError):
        sqlite3.connect(tmp_path / "state" / "manifest.sqlite").execute("SELECT 1 FROM files")
