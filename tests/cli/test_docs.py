"""The generated command reference (docs/cli.md) and man page (docs/ncctl.1) are current,
complete and fully documented; the man page renders without warnings."""

from __future__ import annotations

import difflib
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import typer.main
from typer import _click
from typer.core import TyperGroup

from ncctl.cli.app import app
from ncctl.cli.command_tree import iter_commands
from ncctl.cli.docs import REGENERATE, missing_help, render_cli_reference
from ncctl.cli.man_page import MAN_REGENERATE, render_man_page

CLI_MD = Path(__file__).resolve().parents[2] / "docs" / "cli.md"
MAN_PAGE = CLI_MD.parent / "ncctl.1"


def _leaf_commands() -> list[str]:
    """Full paths of every visible leaf command, found by walking the Typer app itself."""
    leaves: list[str] = []

    def visit(command: _click.Command, path: str) -> None:
        if command.hidden:
            return
        if isinstance(command, TyperGroup):
            for name, sub in command.commands.items():
                visit(sub, f"{path} {name}")
        else:
            leaves.append(path)

    visit(typer.main.get_command(app), "ncctl")
    return leaves


def _assert_current(path: Path, expected: str, regenerate: str) -> None:
    actual = path.read_text(encoding="utf-8") if path.exists() else ""
    if actual != expected:
        diff = "".join(
            list(
                difflib.unified_diff(
                    actual.splitlines(keepends=True),
                    expected.splitlines(keepends=True),
                    f"docs/{path.name}",
                    "generated",
                )
            )[:60]
        )
        raise AssertionError(f"docs/{path.name} is out of date; run `{regenerate}`\n{diff}")


def test_cli_reference_is_current() -> None:
    _assert_current(CLI_MD, render_cli_reference(), REGENERATE)


def test_man_page_is_current() -> None:
    _assert_current(MAN_PAGE, render_man_page(), MAN_REGENERATE)


def test_man_page_has_every_command_and_section() -> None:
    text = MAN_PAGE.read_text(encoding="utf-8")
    subsections = re.findall(r"^\.SS (.+)$", text, flags=re.MULTILINE)
    names = [e.name for e in iter_commands()][1:]
    assert [s.replace("\\-", "-") for s in subsections] == names
    sections = re.findall(r"^\.SH (.+)$", text, flags=re.MULTILINE)
    for section in ("NAME", "SYNOPSIS", "DESCRIPTION", "COMMANDS", "EXIT STATUS", "FILES"):
        assert section in sections, sections
    assert text.count(r"\fB\-\-json\fR") >= 20


def test_man_page_renders_without_warnings(tmp_path: Path) -> None:
    if shutil.which("man"):
        argv = ["man", "--warnings", "-l", str(MAN_PAGE)]
    elif shutil.which("groff"):
        argv = ["groff", "-man", "-Tutf8", "-ww", str(MAN_PAGE)]
    else:
        pytest.skip("neither man nor groff is installed")
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "MANWIDTH": "80", "LC_ALL": "C.UTF-8"}
    proc = subprocess.run(
        argv, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == "", proc.stderr
    assert "EXIT STATUS" in proc.stdout and "ncctl schedule now" in proc.stdout


def test_every_command_argument_and_option_has_help() -> None:
    missing = missing_help()
    assert not missing, "help text missing:\n" + "\n".join(f"  {m}" for m in missing)


def test_every_leaf_command_has_a_heading() -> None:
    leaves = _leaf_commands()
    assert len(leaves) >= 2, f"walking the app found too few commands: {leaves}"
    text = CLI_MD.read_text(encoding="utf-8")
    headings = set(re.findall(r"^#{1,6} +(.+?) *$", text, flags=re.MULTILINE))
    absent = [leaf for leaf in leaves if leaf not in headings]
    assert not absent, f"docs/cli.md has no heading for {absent}; run `{REGENERATE}`"
