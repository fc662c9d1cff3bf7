"""ncctl SIGKILLed at every step of rotate and of upload, then run again: it converges, with
nothing lost, duplicated or corrupted."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.logs.helpers import TRADE_DATE, gunzip, run, tree, write_config

pytestmark = pytest.mark.slow

NAME = f"audit.{TRADE_DATE}.csv.gz"
CONTENT = b"header\n" + b"".join(b"%08d,row\n" % i for i in range(200_000))  # ~3 MiB


def converged(root: Path) -> None:
    archive = root / "archive" / "audit" / NAME
    assert gunzip(archive) == CONTENT
    sidecar = archive.with_name(NAME + ".sha256").read_text().split()
    assert sidecar[1] == NAME
    for dest in ("fcm", "client"):
        outbox = root / "outbox" / dest
        assert sorted(p.name for p in outbox.iterdir()) == [NAME]  # no .part, no duplicate
        assert (outbox / NAME).read_bytes() == archive.read_bytes()
    leftovers = [p for p in root.rglob("*") if p.name.endswith((".tmp", ".part"))]
    assert leftovers == []
    code, doc, _ = run(root / "ncctl.toml", "logs", "status")
    assert code == 0
    [entry] = doc["data"]["files"]
    assert {d["state"] for d in entry["destinations"].values()} == {"verified"}


@pytest.mark.parametrize(
    "point", ["rotate.before_rename", "rotate.after_rename", "rotate.after_compress"]
)
def test_killed_during_rotate(tmp_path: Path, point: str) -> None:
    config = write_config(tmp_path)
    (tmp_path / "live" / "audit.csv").write_bytes(CONTENT)
    code, _, _ = run(config, "logs", "rotate", env={"NCCTL_CRASH_AT": point})
    assert code == -9  # really killed there
    code, doc, _ = run(config, "logs", "rotate")
    assert code == 0, doc
    code, doc, _ = run(config, "logs", "rotate")  # and once more: nothing to do
    assert doc["data"]["categories"][0]["action"] == "already"
    assert run(config, "logs", "upload")[0] == 0
    converged(tmp_path)


def test_killed_between_copy_and_truncate(tmp_path: Path) -> None:
    config = write_config(tmp_path, mode="copytruncate")
    live = tmp_path / "live" / "audit.csv"
    live.write_bytes(CONTENT)
    code, _, _ = run(config, "logs", "rotate", env={"NCCTL_CRASH_AT": "rotate.before_truncate"})
    assert code == -9
    assert live.stat().st_size == len(CONTENT)
    code, doc, _ = run(config, "logs", "rotate")
    assert code == 0, doc
    assert live.stat().st_size == 0  # nothing was appended meanwhile: now truncated
    assert run(config, "logs", "upload")[0] == 0
    converged(tmp_path)


@pytest.mark.parametrize("point", ["upload.before_send", "upload.mid_send", "upload.after_send"])
def test_killed_during_upload(tmp_path: Path, point: str) -> None:
    config = write_config(tmp_path)
    (tmp_path / "live" / "audit.csv").write_bytes(os.urandom(1024) + CONTENT)
    assert run(config, "logs", "rotate")[0] == 0
    # the compressed archive is not CONTENT here; rebuild expectations from it
    before = tree(tmp_path / "archive")
    code, _, _ = run(config, "logs", "upload", env={"NCCTL_CRASH_AT": point})
    assert code == -9
    code, doc, _ = run(config, "logs", "status")
    states = {d["state"] for d in doc["data"]["files"][0]["destinations"].values()}
    assert "verified" not in states or point == "upload.after_send"
    code, doc, _ = run(config, "logs", "upload")
    assert code == 0, doc
    assert tree(tmp_path / "archive") == before  # the archive itself never changes
    archive = tmp_path / "archive" / "audit" / NAME
    for dest in ("fcm", "client"):
        outbox = tmp_path / "outbox" / dest
        assert sorted(p.name for p in outbox.iterdir()) == [NAME]
        assert (outbox / NAME).read_bytes() == archive.read_bytes()
    code, doc, _ = run(config, "logs", "upload")
    assert code == 0 and doc["data"]["uploads"] == []
