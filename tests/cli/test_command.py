"""``@command`` and the one renderer: the Typer signature has no context, the envelope names
the parsed command path, a failure result is ``ok: false`` with its data and exit code."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

import pytest
import typer
import typer.main

from ncctl.cli import context
from ncctl.cli.app import _add_output_options, root
from ncctl.cli.command import command
from ncctl.cli.options import JSON_HELP
from ncctl.cli.render import view
from ncctl.errors import NcctlError, RefusedError
from tests.helpers import one_json_document

if TYPE_CHECKING:
    from rich.console import Console

    from ncctl.cli.context import CommandContext, OutputOptions


@dataclass(frozen=True)
class Echo:
    words: list[str]
    command: str
    wide: bool
    broken: bool = False
    warnings: list[str] = field(default_factory=list)

    def failure(self) -> NcctlError | None:
        return RefusedError("broken", hint="mend it", code="echo.broken") if self.broken else None


def _text(result: Echo, console: Console, out: OutputOptions) -> None:
    console.print(" ".join(result.words), markup=False)


@view(Echo, _text)
def _data(result: Echo) -> dict[str, Any]:
    return {"words": result.words, "command": result.command, "wide": result.wide}


def _echo(
    ctx: CommandContext,
    words: Annotated[list[str], typer.Argument(help="Words to say.")],
    *,
    broken: Annotated[bool, typer.Option("--broken", help="Fail after saying them.")] = False,
    warn: Annotated[bool, typer.Option("--warn", help="Warn too.")] = False,
) -> Echo:
    """Say WORDS."""
    return Echo(words, ctx.command, ctx.output.wide, broken, ["careful"] if warn else [])


def _options(ctx: CommandContext) -> Echo:
    """Say the global and output options, as the context has them."""
    words = [str(ctx.options.config_path), str(ctx.options.clock_at), str(ctx.options.speed)]
    words += [ctx.output.format, str(ctx.output.quiet)]
    return Echo(words, ctx.command, ctx.output.wide)


def _plain(
    words: Annotated[list[str], typer.Argument(help="Words to say.")],
    *,
    broken: Annotated[bool, typer.Option("--broken", help="Fail after saying them.")] = False,
    warn: Annotated[bool, typer.Option("--warn", help="Warn too.")] = False,
    json: Annotated[bool, typer.Option("--json", help=JSON_HELP)] = False,
) -> None:
    """Say WORDS."""


def _app() -> typer.Typer:
    app = typer.Typer(rich_markup_mode=None, pretty_exceptions_enable=False)
    app.callback()(root)
    group = typer.Typer(rich_markup_mode=None)
    command(group, "say")(_echo)
    command(group, "repeat")(_echo)
    command(group, "options")(_options)
    group.command("plain")(_plain)
    app.add_typer(group, name="echo")
    _add_output_options(app, ())
    return app


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    context.reset()
    capsys.readouterr()
    cli = typer.main.get_command(_app())
    try:
        rv = cli.main(args=list(argv), prog_name="ncctl", standalone_mode=False)
        code = rv if isinstance(rv, int) else 0
    except typer.Exit as exc:
        code = int(exc.exit_code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_help_is_that_of_the_plain_command(capsys: pytest.CaptureFixture[str]) -> None:
    helps = []
    for name in ("say", "plain"):
        code, out, _ = _run(capsys, "echo", name, "--help")
        assert code == 0
        helps.append(out.replace(f"echo {name}", "echo NAME"))
    assert helps[0] == helps[1]
    assert "ctx" not in helps[0]


@pytest.mark.parametrize("name", ["say", "repeat"])
def test_envelope_names_the_parsed_command(capsys: pytest.CaptureFixture[str], name: str) -> None:
    code, out, _ = _run(capsys, "echo", name, "a", "b", "--json")
    doc = one_json_document(out)
    assert code == 0
    assert doc == {
        "ok": True,
        "command": f"echo {name}",
        "data": {"words": ["a", "b"], "command": f"echo {name}", "wide": False},
        "error": None,
    }


def test_text_compact_wide_and_quiet(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(capsys, "echo", "say", "a", "b") == (0, "a b\n", "")
    assert _run(capsys, "echo", "say", "a", "-q") == (0, "", "")
    code, out, _ = _run(capsys, "echo", "say", "a", "-o", "json", "-o", "wide")
    assert (code, out) == (0, "a\n")


def test_failure_keeps_the_data_and_sets_the_exit_code(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = _run(capsys, "echo", "say", "a", "--broken", "--warn", "-o", "json")
    doc = one_json_document(out)
    assert code == RefusedError.exit_code
    assert doc["ok"] is False
    assert doc["command"] == "echo say"
    assert doc["data"] == {
        "words": ["a"],
        "command": "echo say",
        "wide": False,
        "warnings": ["careful"],
    }
    assert doc["error"]["code"] == "echo.broken"
    code, out, err = _run(capsys, "echo", "say", "a", "--broken", "--warn")
    assert (code, out) == (RefusedError.exit_code, "a\n")
    assert err.splitlines() == ["warning: careful", "ncctl: broken", "hint: mend it"]


def test_context_comes_from_the_global_options(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ("--config", "x.toml", "--clock", "2026-11-25T10:00", "--speed", "2")
    code, out, _ = _run(capsys, *argv, "echo", "options", "-o", "wide")
    assert (code, out) == (0, "x.toml 2026-11-25T10:00 2.0 wide False\n")
    code, out, _ = _run(capsys, "echo", "options")
    assert (code, out) == (0, "None None 1.0 table False\n")
