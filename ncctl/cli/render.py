"""The one renderer: a command's result as the JSON/YAML envelope ``{ok, command, data,
error}`` or as text, through the view registered for the result's type.

A view (``ncctl/cli/views/<group>.py``) is the only place a result is turned into output:
``data(result)`` gives the JSON shape, ``text(result, console)`` prints the text. A result may
also carry ``warnings`` (a list of text), a ``failure()`` (an error that makes the answer
``ok: false`` with the error's exit code, the data still shown) and an ``exit_status()`` (an
exit code of its own, the answer still ``ok``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from ncctl.cli.context import CommandContext, OutputOptions
    from ncctl.errors import NcctlError


@dataclass(frozen=True)
class View:
    data: Callable[[Any], dict[str, Any]]
    text: Callable[[Any, Console, OutputOptions], None]


VIEWS: dict[type, View] = {}
"""The view of each result type (filled when a view module is imported)."""


def view(
    result_type: type, text: Callable[[Any, Console, OutputOptions], None]
) -> Callable[[Callable[[Any], dict[str, Any]]], Callable[[Any], dict[str, Any]]]:
    """Register the decorated ``data`` function and ``text`` as the view of ``result_type``."""

    def register(data: Callable[[Any], dict[str, Any]]) -> Callable[[Any], dict[str, Any]]:
        VIEWS[result_type] = View(data, text)
        return data

    return register


def render(result: object, ctx: CommandContext) -> None:
    """Print ``result`` as the answer of the command of ``ctx``: the envelope (with
    ``data.warnings`` and, for a command that changes state, ``data.context``), or the
    context line and warnings on stderr and the text on stdout (none with ``--quiet``).

    A result that is also a failure (drift, a broken journal) has ``ok: false`` with both
    ``data`` and ``error``; its text is followed by the error, and the command ends with the
    error's exit code."""
    import sys

    import typer

    from ncctl.cli.output import (
        context_line,
        envelope,
        stderr_console,
        stdout_console,
        write_document,
    )

    shown = VIEWS[type(result)]
    failure: NcctlError | None = None
    if hasattr(result, "failure"):  # a method, or a property of a result from the core
        failure = result.failure() if callable(result.failure) else result.failure
    warnings = list(getattr(result, "warnings", None) or [])
    out = ctx.output
    if out.structured:
        warnings += getattr(result, "document_warnings", None) or []
        data = shown.data(result)
        if warnings:
            data = {**data, "warnings": warnings}
        if ctx.context is not None:
            data = {"context": ctx.context, **data}
        write_document(envelope(ctx.command, data, failure), out.format)
    else:
        if ctx.context is not None:
            sys.stderr.write(context_line(ctx.context) + "\n")
        if warnings:
            err = stderr_console()
            for w in warnings:
                err.print(f"[yellow]warning:[/yellow] {w}", markup=True)
        if not out.quiet:
            shown.text(result, stdout_console(out.wide), out)
        if failure is not None:
            sys.stdout.flush()
            sys.stderr.write(f"ncctl: {failure.message}\n")
            if failure.hint:
                sys.stderr.write(f"hint: {failure.hint}\n")
    if failure is not None:
        raise typer.Exit(failure.exit_code)
    code = result.exit_status() if hasattr(result, "exit_status") else 0
    if code:  # a result that ends with an exit code of its own (a daemon's)
        raise typer.Exit(code)


@dataclass(frozen=True)
class Column:
    """A column of a text table; ``wide_only``: shown with ``-o wide`` only."""

    name: str
    wide_only: bool = False


def print_table(
    columns: Sequence[Column], rows: Iterable[Sequence[str]], console: Console, wide: bool
) -> None:
    """A text table, compact (``-o table``) or with every column (``wide``: ``-o wide``);
    cells are plain text (never markup), never wrapped."""
    from rich.markup import escape
    from rich.table import Table

    shown = [i for i, c in enumerate(columns) if wide or not c.wide_only]
    table = Table(box=None, pad_edge=False)
    for i in shown:
        table.add_column(columns[i].name, no_wrap=True)
    for row in rows:
        table.add_row(*(escape(row[i]) for i in shown))
    console.print(table)
