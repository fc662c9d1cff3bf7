"""The commands of the Typer app and their help as the terminal shows it: what the command
reference (``ncctl/cli/docs.py``) and the man page (``ncctl/cli/man_page.py``) are made of."""

from __future__ import annotations

import contextlib
import inspect
import re
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum
from typing import Any

import typer
import typer.main
from typer import _click
from typer.core import TyperArgument, TyperGroup, TyperOption

PROG = "ncctl"
CODE_SPAN = re.compile(r"(`+).+?\1", re.DOTALL)


@dataclass(frozen=True)
class CommandEntry:
    """One command or group of the app, with the context it runs in."""

    path: tuple[str, ...]
    command: _click.Command
    ctx: _click.Context

    @property
    def name(self) -> str:
        """The full command path, like ``ncctl schedule now``."""
        return " ".join(self.path)

    @property
    def is_group(self) -> bool:
        return isinstance(self.command, TyperGroup)

    def subcommands(self) -> list[tuple[str, _click.Command]]:
        """The visible subcommands of a group, in the app's order."""
        group = self.command
        if not isinstance(group, TyperGroup):
            return []
        out: list[tuple[str, _click.Command]] = []
        for name in group.list_commands(self.ctx):
            sub = group.get_command(self.ctx, name)
            if sub is not None and not sub.hidden:
                out.append((name, sub))
        return out

    def params(self) -> list[_click.Parameter]:
        """Visible arguments and options, in the app's order (the help option excluded)."""
        return [p for p in self.command.params if not getattr(p, "hidden", False)]


def iter_commands(app: typer.Typer | None = None) -> Iterator[CommandEntry]:
    """Every visible command and group of ``app`` (default: ncctl's), depth first."""
    if app is None:
        from ncctl.cli.app import app as ncctl_app

        app = ncctl_app
    root = typer.main.get_command(app)
    root_ctx = _click.Context(root, info_name=PROG, **root.context_settings)
    yield from _walk(CommandEntry((PROG,), root, root_ctx))


def _walk(entry: CommandEntry) -> Iterator[CommandEntry]:
    yield entry
    for name, sub in entry.subcommands():
        ctx = _click.Context(sub, parent=entry.ctx, info_name=name, **sub.context_settings)
        yield from _walk(CommandEntry((*entry.path, name), sub, ctx))


def markup_mode(command: _click.Command) -> str | None:
    mode: str | None = getattr(command, "rich_markup_mode", None)
    return mode


def plain(text: str | None, markup_mode: str | None) -> str:
    """Help text as the terminal shows it: dedented, cut at ``\\f``, Rich markup removed."""
    if not text:
        return ""
    text = inspect.cleandoc(text).partition("\f")[0].strip()
    if markup_mode == "rich" and "[" in text:
        from rich.errors import MarkupError
        from rich.text import Text

        with contextlib.suppress(MarkupError):  # shown as written, as Typer would fail
            text = Text.from_markup(text).plain
    return text


def value_range(param: _click.Parameter) -> str:
    low = getattr(param, "min", None)
    high = getattr(param, "max", None)
    if getattr(param, "count", False) and low == 0 and high is None:
        return ""
    if low is not None and high is not None:
        return f"{low}<=x<={high}"
    if low is not None:
        return f"x>={low}"
    if high is not None:
        return f"x<={high}"
    return ""


def type_label(param: _click.Parameter, ctx: _click.Context) -> str:
    """The type a parameter takes, as plain text (``count``, ``flag``, ``TEXT [x>=1]``)."""
    if isinstance(param, TyperOption):
        if param.count:
            return "count"
        if param.is_flag:
            return "flag"
        label = param.display_type_rich(ctx) or ""
    elif isinstance(param, TyperArgument):
        label = param.display_type(ctx)
    else:
        label = param.metavar or ""
    bounds = value_range(param)
    return f"{label} [{bounds}]".strip() if bounds else label


def default_text(param: _click.Parameter, value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(default_text(param, v) for v in value)
    if isinstance(value, Enum):
        return str(value.value)
    if callable(value):
        return "(dynamic)"
    if isinstance(param, TyperOption) and param.is_bool_flag:
        if param.secondary_opts:
            return (param.opts if value else param.secondary_opts)[0]
        return str(value) if value else ""
    return str(value)


def default_of(param: _click.Parameter, ctx: _click.Context) -> tuple[str, bool]:
    """A parameter's default as plain text, and whether that text is a value (not prose)."""
    if param.required:
        return "required", False
    show: bool | str = getattr(param, "show_default", False)
    if isinstance(show, str):
        return show, False
    if not (show or ctx.show_default):
        return "", False
    value = param.get_default(ctx, call=False)
    if value is None:
        return "", False
    return default_text(param, value), True


def usage(entry: CommandEntry) -> str:
    pieces = entry.command.collect_usage_pieces(entry.ctx)
    return " ".join([entry.ctx.command_path, *pieces])
