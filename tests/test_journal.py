"""The journal: hash chain, tamper detection, and concurrent writers in real processes."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ncctl.errors import DataError
from ncctl.journal import GENESIS, Journal, verify

pytestmark = pytest.mark.slow


def _write_many(path: str, writer: int, count: int) -> None:
    journal = Journal(Path(path))
    for i in range(count):
        journal.append("test write", [f"writer={writer}", f"i={i}"], "ok")


def test_chain_links_each_line_to_the_previous(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.jsonl")
    first = journal.append("config set", ["schedule.display_tz", "UTC"], "ok")
    second = journal.append("session start", [], "refused", reason="outside hours")
    assert first["prev"] == GENESIS
    assert second["prev"] != GENESIS
    assert second["reason"] == "outside hours"
    assert isinstance(first["ts_ns"], int) and first["ts_ns"] > 1_700_000_000 * 10**9
    result = verify(journal.path)
    assert result.ok and result.lines == 2


@pytest.mark.parametrize("line_to_edit", [1, 2, 3])
def test_a_hand_edited_line_is_named(tmp_path: Path, line_to_edit: int) -> None:
    journal = Journal(tmp_path / "journal.jsonl")
    for i in range(3):
        journal.append("feed start", [str(i)], "ok")
    lines = journal.path.read_text().splitlines(keepends=True)
    lines[line_to_edit - 1] = lines[line_to_edit - 1].replace('"outcome":"ok"', '"outcome":"no"')
    journal.path.write_text("".join(lines))
    result = verify(journal.path)
    assert not result.ok
    assert result.broken_line == line_to_edit


def test_a_removed_line_breaks_the_chain(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.jsonl")
    for i in range(4):
        journal.append("feed start", [str(i)], "ok")
    lines = journal.path.read_text().splitlines(keepends=True)
    del lines[1]
    journal.path.write_text("".join(lines))
    result = verify(journal.path)
    assert (result.ok, result.broken_line) == (False, 2)


def test_a_truncated_last_line_is_found(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.jsonl")
    journal.append("a", [], "ok")
    journal.append("b", [], "ok")
    journal.path.write_bytes(journal.path.read_bytes()[:-10])
    result = verify(journal.path)
    assert (result.ok, result.broken_line) == (False, 2)


def test_garbage_line_is_a_data_error_when_listing(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.jsonl")
    journal.append("a", [], "ok")
    with journal.path.open("a") as fh:
        fh.write("not json\n")
    with pytest.raises(DataError, match=r"journal.jsonl:2"):
        list(journal.entries())


def test_eight_concurrent_writers_keep_every_line_and_the_chain(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    per_writer = 40
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_write_many, args=(str(path), w, per_writer)) for w in range(8)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    result = verify(path)
    assert result.ok, result.problem
    assert result.lines == 8 * per_writer
    seen = {
        (rec["args"][0], rec["args"][1])
        for rec in (json.loads(line) for line in path.read_text().splitlines())
    }
    expected = {(f"writer={w}", f"i={i}") for w in range(8) for i in range(per_writer)}
    assert seen == expected


def test_a_crash_partial_line_is_not_glued_onto(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.jsonl")
    journal.append("a", [], "ok")
    with journal.path.open("ab") as fh:
        fh.write(b'{"half a line')
    record = journal.append("b", [], "ok")
    assert record["seq"] == 2 and "recovered" in record
    assert verify(journal.path).ok
    assert [e.record["command"] for e in journal.entries()] == ["a", "b"]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    lines=st.integers(min_value=1, max_value=8),
    cut=st.tuples(st.integers(min_value=0, max_value=7), st.integers(min_value=1, max_value=8)),
    keep_newline=st.booleans(),
)
def test_any_removal_of_lines_is_found(
    tmp_path_factory: pytest.TempPathFactory,
    lines: int,
    cut: tuple[int, int],
    keep_newline: bool,
) -> None:
    """Whatever run of whole lines is removed (first, middle, last, all), or wherever the file
    is truncated, verify fails: by the chain or by the state DB anchor."""
    directory = tmp_path_factory.mktemp("j")
    journal = Journal(directory / "journal.jsonl")
    for i in range(lines):
        journal.append("feed start", [str(i)], "ok")
    data = journal.path.read_bytes()
    texts = data.splitlines(keepends=True)
    start = min(cut[0], lines - 1)
    stop = min(start + cut[1], lines)
    tampered = b"".join(texts[:start] + texts[stop:])
    if not keep_newline and tampered:
        tampered = tampered[:-1]
    journal.path.write_bytes(tampered)
    result = verify(journal.path)
    assert not result.ok
    assert result.anchor in ("chain", "state DB")


def test_the_journal_and_its_anchor_are_not_world_readable(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "state" / "journal.jsonl")
    journal.append("a", [], "ok")
    for name in ("journal.jsonl", "journal.sqlite"):
        mode = (tmp_path / "state" / name).stat().st_mode & 0o777
        assert mode & 0o037 == 0 and mode & 0o600 == 0o600, (name, oct(mode))
