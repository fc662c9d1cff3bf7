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

    from ncctl.cli.context import CommandContext
    from ncctl.errors import NcctlError


@dataclass(frozen=True)
class View:
    data: Callable[[Any], dict[str, Any]]
    text: Callable[[Any, Console], None]


VIEWS: dict[type, View] = {}
"""The view of each result type (filled when a view module is imported)."""


def view(
    result_type: type, text: Callable[[Any, Console], None]
) -> Callable[[Callable[[Any], dict[str, Any]]], Callable[[Any], dict[str, Any]]]:
    """Register the decorated ``data`` function and ``text`` as the view of ``result_type``."""

    def register(data: Callable[[Any], dict[str, Any]]) -> Callable[[Any], dict[str, Any]]:
        VIEWS[result_type] = View(data, text)
        return data

    return register


def render(result: object, ctx: CommandContext) -> None:
    """Print ``result`` as the answer of the command of ``ctx``."""
    from ncctl.cli import output

    shown = VIEWS[type(result)]
    failure: NcctlError | None = None
    if hasattr(result, "failure"):  # a method, or a property of a result from the core
        failure = result.failure() if callable(result.failure) else result.failure
    warnings = list(getattr(result, "warnings", None) or [])
    output.emit(
        shown.data(result),
        lambda console: shown.text(result, console),
        warnings=warnings,
        failure=failure,
    )
    code = result.exit_status() if hasattr(result, "exit_status") else 0
    if code:  # a result that ends with an exit code of its own (a daemon's)
        import typer

        raise typer.Exit(code)


@dataclass(frozen=True)
class Column:
    """A column of a text table; ``wide_only``: shown with ``-o wide`` only."""

    name: str
    wide_only: bool = False


def print_table(columns: Sequence[Column], rows: Iterable[Sequence[str]], console: Console) -> None:
    """A text table, compact (``-o table``) or with every column (``-o wide``); cells are
    plain text (never markup), never wrapped."""
    from rich.markup import escape
    from rich.table import Table

    from ncctl.cli import output

    shown = [i for i, c in enumerate(columns) if output.wide() or not c.wide_only]
    table = Table(box=None, pad_edge=False)
    for i in shown:
        table.add_column(columns[i].name, no_wrap=True)
    for row in rows:
        table.add_row(*(escape(row[i]) for i in shown))
    console.print(table)
