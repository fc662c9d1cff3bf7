"""The journal exported with each trade date's archives: delivered by the uploader, used by
`ncctl audit verify`, resumed after a crash, shown by `logs status`, and by the runner too."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import pytest

from ncctl.journal.records import sha
from ncctl.logs.manifest import Manifest, manifest_path
from tests.helpers import run_process
from tests.logs.helpers import FORCED, run, write_config
from tests.test_journal_support import (
    anchors_that_caught,
    journal_with,
    rewrite_with_recomputed_anchors,
)

pytestmark = pytest.mark.slow

DAY1, DAY2 = "2026-11-25T16:05", "2026-11-30T16:05"


def _head(directory: Path, day: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((directory / f"journal.{day}.head.json").read_text())
    return doc


def test_rotation_and_upload_deliver_the_segment_and_head(tmp_path: Path) -> None:
    config = write_config(tmp_path, destinations={"fcm": "outbox/fcm"})
    state, outbox = tmp_path / "state", tmp_path / "outbox" / "fcm"
    journal = journal_with(state, 4)
    (tmp_path / "live" / "audit.csv").write_text("row\n")
    code, doc, _ = run(config, "logs", "rotate", clock=DAY1)
    assert code == 0, doc
    by_cat = {c["category"]: c for c in doc["data"]["categories"]}
    assert by_cat["journal"]["action"] == "rotated"
    assert by_cat["journal"]["message"] == "exported lines 1..4 and the head for 2026-11-25"
    code, doc, _ = run(config, "logs", "upload", clock=DAY1)
    assert code == 0, doc
    delivered = {u["file"] for u in doc["data"]["uploads"] if u["state"] == "verified"}
    assert {"journal.20261125.jsonl", "journal.20261125.head.json"} <= delivered
    lines = journal.path.read_bytes().splitlines(keepends=True)
    assert (outbox / "journal.20261125.jsonl").read_bytes() == b"".join(lines[:4])
    head = _head(outbox, "20261125")
    assert (head["lines"], head["hash"], head["size"]) == (
        4,
        sha(lines[3].rstrip(b"\n")),
        sum(map(len, lines[:4])),
    )
    archive = tmp_path / "archive" / "journal"
    sidecar = (archive / "journal.20261125.jsonl.sha256").read_text().split()[0]
    assert sidecar == head["segment_sha256"]
    # the next trade date exports only what came since (rotate and upload were journaled)
    (tmp_path / "live" / "audit.csv").write_text("row\n")
    assert run(config, "logs", "rotate", clock=DAY2)[0] == 0
    assert run(config, "logs", "upload", clock=DAY2)[0] == 0
    second = _head(outbox, "20261130")
    assert second["first_line"] == 5 and second["previous"]["lines"] == 4
    segment = (outbox / "journal.20261130.jsonl").read_bytes()
    assert segment == journal.path.read_bytes()[head["size"] : second["size"]]
    code, doc, _ = run(config, "audit", "verify", clock=DAY2)
    assert code == 0, doc
    wheres = [a.get("where", "") for a in doc["data"]["anchors"] if a["ok"]]
    for day in ("20261125", "20261130"):
        assert f"destination fcm ({outbox / f'journal.{day}.head.json'})" in wheres
        assert f"the archive ({archive / f'journal.{day}.head.json'})" in wheres
    code, doc, _ = run(config, "logs", "status", clock=DAY2)
    assert code == 0, doc
    journal_rows = [f for f in doc["data"]["files"] if f["category"] == "journal"]
    assert len(journal_rows) == 4
    assert all(f["destinations"]["fcm"]["state"] == "verified" for f in journal_rows)
    code, doc, _ = run(config, "logs", "prune", clock="2031-12-01T12:00")
    assert code == 0, doc
    assert (archive / "journal.20261125.head.json").is_file()  # kept: verify reads it


def test_an_export_killed_half_way_is_finished_by_the_next_rotation(tmp_path: Path) -> None:
    config = write_config(tmp_path, destinations={"fcm": "outbox/fcm"})
    journal_with(tmp_path / "state", 3)
    (tmp_path / "live" / "audit.csv").write_text("row\n")
    code, _, _ = run(
        config, "logs", "rotate", env={"NCCTL_CRASH_AT": "journal_export.before_manifest"}
    )
    assert code == -signal.SIGKILL
    code, doc, _ = run(config, "logs", "rotate")
    assert code == 0, doc
    by_cat = {c["category"]: c["action"] for c in doc["data"]["categories"]}
    assert by_cat == {"audit": "already", "journal": "rotated"}
    assert run(config, "logs", "upload")[0] == 0
    assert _head(tmp_path / "outbox" / "fcm", "20261125")["lines"] == 3
    code, doc, _ = run(config, "audit", "verify")
    assert code == 0, doc
    code, doc, _ = run(config, "logs", "rotate")  # once per trade date
    assert {c["category"] for c in doc["data"]["categories"]} == {"audit"}


def test_the_runners_rotate_job_exports_the_journal(tmp_path: Path) -> None:
    config = write_config(tmp_path, destinations={"fcm": "outbox/fcm"})
    journal_with(tmp_path / "state", 2)
    (tmp_path / "live" / "audit.csv").write_text("row\n")
    code, doc, err = run(config, "maintenance", "run", clock="2026-11-25T16:02")
    assert code == 0, (doc, err)
    outbox = tmp_path / "outbox" / "fcm"
    head = _head(outbox, "20261125")
    assert head["lines"] >= 2  # and whatever the pass journaled before its rotate job
    assert (outbox / "journal.20261125.jsonl").is_file()
    code, doc, _ = run(config, "audit", "verify", clock="2026-11-25T16:02")
    assert code == 0, doc
    lines = doc["data"]["lines"]
    done = run_process("--config", config, "--clock", "2026-11-25T16:02", "metrics", cwd=tmp_path)
    assert done.code == 0, done.err
    metrics = done.out
    assert f"ncctl_journal_lines {lines:.1f}" in metrics
    assert f'ncctl_journal_head_info{{hash="{doc["data"]["head"]["hash"]}"}} 1.0' in metrics


def test_an_sftp_destination_is_checked_through_the_manifests_record(tmp_path: Path) -> None:
    """verify does not connect anywhere: for an SFTP destination it uses the local head whose
    SHA-256 the manifest recorded as verified there, and says so."""
    config = write_config(tmp_path, destinations={"fcm": "outbox/fcm"})
    text = config.read_text().replace(
        f'url = "file://{tmp_path / "outbox/fcm"}"',
        'url = "sftp://ops@192.0.2.1:22/incoming"\n'
        f'key_file = "{tmp_path / "id"}"\nknown_hosts = "{tmp_path / "known_hosts"}"',
    )
    config.write_text(text)
    journal_with(tmp_path / "state", 3)
    (tmp_path / "live" / "audit.csv").write_text("row\n")
    assert run(config, "logs", "rotate", *FORCED)[0] == 0
    manifest = Manifest(manifest_path(tmp_path / "state"))
    try:
        for row in manifest.files("category = 'journal'"):
            manifest.set_upload(row.id, "fcm", "verified", verified_by="readback")
    finally:
        manifest.close()
    code, doc, _ = run(config, "audit", "verify")
    assert code == 0, doc
    [sftp] = [a for a in doc["data"]["anchors"] if "sftp://" in a.get("where", "")]
    assert sftp["ok"] is True and "not read over SFTP" in sftp["detail"]
    rewrite_with_recomputed_anchors(tmp_path / "state", 0, b'"i=0"', b'"i=7"')
    caught = anchors_that_caught(config)
    assert any("destination fcm (sftp://ops@192.0.2.1:22/incoming)" in a for a in caught)
