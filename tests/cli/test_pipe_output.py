"""Output to a pipe is whole lines: no table row wraps or is cut, whatever ``$COLUMNS`` says."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import time
from pathlib import Path

import pytest

from tests.helpers import NCCTL_BIN, run_process
from tests.tuning import fakeroot
from tests.tuning.conftest import SATURDAY, WEDNESDAY, write_config

SETTINGS = ("net.core.rmem_max", "net.core.wmem_max", "net.ipv4.tcp_slow_start_after_idle")


def _no_cut_lines(out: str) -> None:
    assert "…" not in out, out
    assert out.endswith("\n"), out


@pytest.mark.slow
@pytest.mark.parametrize("columns", [None, "80", "40"])
def test_tune_plan_rows_stay_whole(tmp_path: Path, columns: str | None) -> None:
    root = fakeroot.build(tmp_path / "root")
    config = write_config(tmp_path / "ncctl.toml", tmp_path / "state", root)
    outcome = run_process(
        "--config", config, "--clock", SATURDAY, "tune", "plan", "--root", root,
        cwd=tmp_path, columns=columns,
    )  # fmt: skip
    assert outcome.code == 0, outcome.err
    _no_cut_lines(outcome.out)
    lines = outcome.out.splitlines()
    for name in SETTINGS:
        rows = [line for line in lines if line.split()[:1] == [name]]
        assert len(rows) == 1, (name, outcome.out)
        # the row carries its whole verdict: scope, current and desired value on the same line
        assert len(rows[0].split()) >= 5, rows[0]
    # one line per setting: as many table rows as the JSON plan has settings
    header = next(i for i, line in enumerate(lines) if line.startswith("setting "))
    table = []
    for line in lines[header + 1 :]:
        if not line[:1].strip():
            break
        table.append(line)
    plan = run_process(
        "--config", config, "--clock", SATURDAY, "tune", "plan", "--root", root, "--json",
        cwd=tmp_path, columns=columns,
    ).doc()  # fmt: skip
    assert len(table) == len(plan["data"]["settings"]), outcome.out


@pytest.mark.slow
@pytest.mark.parametrize(
    "argv",
    [("status", "--week"), ("schedule", "show")],
    ids=["status", "schedule-show"],
)
def test_tables_are_not_cut_in_a_pipe(tmp_path: Path, argv: tuple[str, ...]) -> None:
    wide = run_process("--clock", WEDNESDAY, *argv, cwd=tmp_path, columns="1000")
    narrow = run_process("--clock", WEDNESDAY, *argv, cwd=tmp_path, columns="40")
    unset = run_process("--clock", WEDNESDAY, *argv, cwd=tmp_path, columns=None)
    assert wide.code == narrow.code == unset.code, (wide.err, narrow.err)
    _no_cut_lines(narrow.out)
    # the terminal width a pipe is told about changes nothing
    assert narrow.out == wide.out == unset.out
    assert len(narrow.out.splitlines()) >= 5, narrow.out
    assert max(len(line) for line in narrow.out.splitlines()) > 40


def test_a_terminal_keeps_its_width(tmp_path: Path) -> None:
    """On a terminal (a real pty) the console still fits the table to $COLUMNS."""
    primary, secondary = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("NCCTL_")}
    env.update({"COLUMNS": "30", "LINES": "50", "TERM": "dumb", "NO_COLOR": "1"})
    proc = subprocess.Popen(
        [str(NCCTL_BIN), "--clock", WEDNESDAY, "schedule", "show"],
        stdout=secondary, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
        cwd=tmp_path, env=env,
    )  # fmt: skip
    os.close(secondary)
    chunks: list[bytes] = []
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([primary], [], [], 1.0)
            if not ready:
                continue
            try:
                chunk = os.read(primary, 65536)
            except OSError:  # the pty closes when the child exits
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(primary)
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", b"".join(chunks).decode())
    lines = text.splitlines()
    assert len(lines) >= 5, lines
    assert max(len(line.rstrip()) for line in lines) <= 30, lines
