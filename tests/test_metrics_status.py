"""The status functions the metrics read (journal head, component state): read-only, and a
state directory they read stays as it was."""

from __future__ import annotations

from pathlib import Path

from ncctl.components.base import COMPONENTS
from ncctl.components.status import component_status
from ncctl.config import load_file
from ncctl.journal import Journal, journal_path
from ncctl.journal.status import journal_head
from tests.logs.helpers import write_config


def _tree(root: Path) -> list[tuple[str, int]]:
    """Every file and its size, but SQLite's companions of an existing database (a reader of
    a WAL database makes its -shm and -wal when they are missing; they hold no records)."""
    return sorted(
        (p.relative_to(root).as_posix(), p.stat().st_size)
        for p in root.rglob("*")
        if not p.name.endswith(("-wal", "-shm"))
    )


def test_journal_head_without_an_anchor_is_empty_and_makes_none(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    before = _tree(tmp_path)
    got = journal_head(state_dir)
    assert (got.head, got.anomalies) == (None, 0)
    assert _tree(tmp_path) == before


def test_journal_head_follows_every_append(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    journal = Journal(journal_path(state_dir))
    for n in range(1, 4):
        journal.append("test", [str(n)], "ok")
        before = _tree(tmp_path)
        got = journal_head(state_dir)
        assert got.head is not None and got.anomalies == 0
        assert got.head.lines == n
        assert got.head.size == journal_path(state_dir).stat().st_size
        assert _tree(tmp_path) == before


def test_component_status_of_components_never_started(tmp_path: Path) -> None:
    config, _ = load_file(write_config(tmp_path))
    before = _tree(tmp_path)
    for name in COMPONENTS:
        section = getattr(config.components, name)
        status = component_status(name, section, config.state_dir)
        assert (status.name, status.running) == (name, False)
    assert _tree(tmp_path) == before
