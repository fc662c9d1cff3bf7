"""`ncctl audit verify` finds every kind of tampering and names the anchor that caught it."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from ncctl.journal.records import canonical, sha
from tests.logs.helpers import run, write_config
from tests.test_journal_support import (
    anchors_that_caught,
    journal_with,
    rechain,
    rewrite_with_recomputed_anchors,
    snapshot,
    write_lines,
)

pytestmark = pytest.mark.slow

LINES = 6


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines()


def edit_line(path: Path) -> None:
    texts = _lines(path)
    texts[2] = texts[2].replace(b'"outcome":"ok"', b'"outcome":"no"')
    write_lines(path, texts)


def delete_middle_line(path: Path) -> None:
    texts = _lines(path)
    del texts[2]
    write_lines(path, texts)


def delete_last_line(path: Path) -> None:
    write_lines(path, _lines(path)[:-1])


def truncate_to_three(path: Path) -> None:
    write_lines(path, _lines(path)[:3])


def empty_the_file(path: Path) -> None:
    path.write_bytes(b"")


def delete_the_file(path: Path) -> None:
    path.unlink()


def reorder(path: Path) -> None:
    texts = _lines(path)
    texts[1], texts[2] = texts[2], texts[1]
    write_lines(path, texts)


def append_forged_line(path: Path) -> None:
    texts = _lines(path)
    record = json.loads(texts[-1])
    record.pop("hash")
    record.update(command="feed start", args=["forged"], prev=sha(texts[-1]), seq=LINES + 1)
    record["hash"] = sha(canonical(record))
    write_lines(path, [*texts, canonical(record)])


def rechain_after_deleting_a_line(path: Path) -> None:
    texts = _lines(path)
    del texts[1]
    write_lines(path, rechain(texts))


CASES: list[tuple[Callable[[Path], None], str, int]] = [
    (edit_line, "chain", 3),
    (delete_middle_line, "chain", 3),
    (delete_last_line, "state DB", LINES),
    (truncate_to_three, "state DB", 4),
    (empty_the_file, "state DB", 1),
    (delete_the_file, "state DB", 1),
    (reorder, "chain", 2),
    (append_forged_line, "state DB", LINES + 1),
    (rechain_after_deleting_a_line, "state DB", LINES),
]


@pytest.mark.parametrize(("tamper", "anchor", "line"), CASES, ids=[c[0].__name__ for c in CASES])
def test_tampering_is_found_and_the_anchor_named(
    tmp_path: Path, tamper: Callable[[Path], None], anchor: str, line: int
) -> None:
    config = write_config(tmp_path)
    journal = journal_with(tmp_path / "state", LINES)
    assert run(config, "audit", "verify")[0] == 0
    tamper(journal.path)
    before = snapshot(tmp_path)
    code, doc, _ = run(config, "audit", "verify")
    assert code == 1, doc
    assert snapshot(tmp_path) == before  # verify reads only
    assert doc["error"]["code"] == "journal.broken"
    assert f"caught by the {anchor}" in doc["error"]["message"]
    data = doc["data"]
    assert (data["intact"], data["anchor"], data["broken_line"]) == (False, anchor, line)
    assert {p["anchor"] for p in data["problems"]} >= {anchor}
    code, _, err = run(config, "audit", "verify", json_flag=False)
    assert code == 1
    assert f"caught by the {anchor}" in err


def test_an_append_after_tampering_keeps_the_evidence(tmp_path: Path) -> None:
    """A writer that finds lines missing records it before going on: the next verify still
    fails, naming the state DB, although the anchor now agrees with the file."""
    config = write_config(tmp_path)
    journal = journal_with(tmp_path / "state", LINES)
    delete_last_line(journal.path)
    journal.append("feed stop", [], "ok")
    code, doc, _ = run(config, "audit", "verify")
    assert code == 1 and doc["data"]["anchor"] == "state DB"
    assert any("found 5 lines" in p["problem"] for p in doc["data"]["problems"])
    code, doc, _ = run(config, "audit", "log")
    assert code == 0 and len(doc["data"]["entries"]) == LINES


def test_a_rewritten_state_db_is_still_caught_by_the_exported_head(tmp_path: Path) -> None:
    """Lines rewritten with a recomputed chain and a rewritten journal.sqlite: only the head
    exported with the trade date's archives (at the destination) can tell."""
    config = write_config(tmp_path, destinations={"fcm": "outbox/fcm"})
    journal_with(tmp_path / "state", LINES)
    (tmp_path / "live" / "audit.csv").write_text("row\n")
    assert run(config, "logs", "rotate")[0] == 0
    assert run(config, "logs", "upload")[0] == 0
    rewrite_with_recomputed_anchors(tmp_path / "state", 1, b'"i=1"', b'"i=99"')
    caught = anchors_that_caught(config)
    remote = tmp_path / "outbox" / "fcm" / "journal.20261125.head.json"
    assert f"exported head of trade date 2026-11-25 at destination fcm ({remote})" in caught
    assert "state DB" not in caught and "chain" not in caught
