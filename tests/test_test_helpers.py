"""tests/helpers.py is the one place the tests run ncctl to completion and wait on a condition.

A test file that runs ``python -m ncctl`` itself, hands the ncctl script to ``subprocess.run``
(or ``check_output``, ``call``, ``check_call``) or defines its own ``wait_for`` fails here, and
so do the helpers themselves when they stop behaving as documented. Starting a child that a
test races, kills or leaves running (``subprocess.Popen``) is allowed: its command line comes
from :func:`tests.helpers.ncctl_command`.
"""

from __future__ import annotations

import ast
import re
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import (
    REPO_ROOT,
    holds_within,
    ncctl_command,
    run_in_process,
    run_process,
    wait_for,
)

TESTS = REPO_ROOT / "tests"
HELPERS = TESTS / "helpers.py"
ALLOWED: dict[str, set[str]] = {}
"""Files still allowed a runner or wait of their own, with what they have. Only shrinks: an
entry whose file no longer has it fails too."""
ALLOWED_FOLDERS = ("tests/logs/", "tests/ilink/")
"""Only files under these may be listed in ALLOWED."""
MODULE_RUN = re.compile(r"""["']-m["']\s*,\s*["']ncctl["']""")
RUNNERS = {"run", "check_output", "call", "check_call"}
NCCTL_NAMES = {"NCCTL", "NCCTL_BIN"}


def _names_ncctl(node: ast.AST) -> bool:
    return any(isinstance(n, ast.Name) and n.id in NCCTL_NAMES for n in ast.walk(node))


def _own_runs_and_waits(path: Path) -> set[str]:
    """What ``path`` has of its own: a ``python -m ncctl`` command line, a run-to-completion
    call of the ncctl script, a ``wait_for`` definition."""
    text = path.read_text(encoding="utf-8")
    found = {"runs python -m ncctl"} if MODULE_RUN.search(text) else set()
    for node in ast.walk(ast.parse(text, str(path))):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == "wait_for":
            found.add("defines wait_for")
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == "subprocess"
            and node.func.attr in RUNNERS
            and node.args
            and _names_ncctl(node.args[0])
        ):
            found.add(f"calls subprocess.{node.func.attr} on the ncctl script")
    return found


def test_no_test_file_runs_ncctl_or_waits_by_itself() -> None:
    seen: dict[str, set[str]] = {}
    for path in sorted(TESTS.rglob("*.py")):
        if path in (HELPERS, Path(__file__)):  # this file's sample has all three
            continue
        found = _own_runs_and_waits(path)
        if found:
            seen[str(path.relative_to(REPO_ROOT))] = found
    unexpected = {p: f - ALLOWED.get(p, set()) for p, f in seen.items()}
    assert not {p: f for p, f in unexpected.items() if f}, (
        "use tests/helpers.py (run_in_process, run_process, ncctl_command, wait_for)"
    )
    stale = {p: want - seen.get(p, set()) for p, want in ALLOWED.items()}
    assert not {p: s for p, s in stale.items() if s}, "remove these entries from ALLOWED"
    assert all(p.startswith(ALLOWED_FOLDERS) for p in ALLOWED), ALLOWED


def test_the_checker_finds_each_kind(tmp_path: Path) -> None:
    """The three things the layout check looks for are found (so its silence means something)."""
    sample = tmp_path / "test_sample.py"
    sample.write_text(
        "import subprocess, sys\n"
        "from tests.helpers import NCCTL_BIN\n"
        "def wait_for(probe, timeout_s, what):\n"
        "    return probe()\n"
        "def run():\n"
        '    subprocess.run([sys.executable, "-m", "ncctl", "status"], check=False)\n'
        '    subprocess.check_output([str(NCCTL_BIN), "status"])\n',
        encoding="utf-8",
    )
    assert _own_runs_and_waits(sample) == {
        "defines wait_for",
        "runs python -m ncctl",
        "calls subprocess.check_output on the ncctl script",
    }


def test_wait_for_returns_what_the_probe_found() -> None:
    calls: list[int] = []

    def third_time() -> int | None:
        calls.append(1)
        return len(calls) if len(calls) >= 3 else None

    assert wait_for(third_time, 5.0, "the third call") == 3
    assert len(calls) == 3


def test_wait_for_fails_naming_what_it_waited_for() -> None:
    started = time.monotonic()
    with pytest.raises(AssertionError, match="waiting for the impossible"):
        wait_for(lambda: False, 0.05, "the impossible")
    assert time.monotonic() - started < 5.0  # bounded: well under any test's budget


def test_holds_within_answers_instead_of_failing() -> None:
    assert holds_within(lambda: True, 0.0) is True
    assert holds_within(lambda: False, 0.02) is False


def test_ncctl_command_is_the_script_or_the_module() -> None:
    assert ncctl_command("status", Path("/x"))[1:] == ["status", "/x"]
    assert ncctl_command("status", module=True) == [sys.executable, "-m", "ncctl", "status"]


def test_in_process_and_child_runs_agree(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same command, in-process and as a child, gives the same exit code and document."""
    argv = ("--clock", "2026-11-25T10:00", "schedule", "now", "--json")
    inside = run_in_process(capsys, *argv)
    child = run_process(*argv, cwd=tmp_path)
    assert (inside.code, child.code) == (0, 0), (inside.err, child.err)
    assert inside.data() == child.data()
    assert child.argv == argv
