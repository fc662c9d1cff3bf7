"""The generated command reference (docs/cli.md) is current, complete and fully documented."""

from __future__ import annotations

import difflib
import re
from pathlib import Path

import typer.main
from typer import _click
from typer.core import TyperGroup

from ncctl.cli.app import app
from ncctl.cli.docs import REGENERATE, missing_help, render_cli_reference

CLI_MD = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


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


def test_cli_reference_is_current() -> None:
    expected = render_cli_reference()
    actual = CLI_MD.read_text(encoding="utf-8") if CLI_MD.exists() else ""
    if actual != expected:
        diff = "".join(
            list(
                difflib.unified_diff(
                    actual.splitlines(keepends=True),
                    expected.splitlines(keepends=True),
                    "docs/cli.md",
                    "render_cli_reference()",
                )
            )[:60]
        )
        raise AssertionError(f"docs/cli.md is out of date; run `{REGENERATE}`\n{diff}")


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
