"""``--help`` shows help texts as written: square brackets (TOML tables) are not Rich markup."""

from __future__ import annotations

import pytest

from ncctl.cli.command_tree import iter_commands
from tests.helpers import run_in_process


def test_every_help_shows_its_brackets(capsys: pytest.CaptureFixture[str]) -> None:
    entries = list(iter_commands())
    assert len(entries) >= 20, [e.name for e in entries]
    bad: list[str] = []
    for entry in entries:
        outcome = run_in_process(capsys, *entry.path[1:], "--help")
        assert outcome.code == 0, (entry.name, outcome.err)
        if "( " in outcome.out or "  file" in outcome.out:
            bad.append(entry.name)
    assert not bad, f"help with swallowed brackets: {bad}"


def test_clock_help_names_the_clock_table(capsys: pytest.CaptureFixture[str]) -> None:
    outcome = run_in_process(capsys, "clock", "--help")
    assert "development setup ([clock] file)" in outcome.out
    assert "named by [clock] file" in " ".join(outcome.out.split())
