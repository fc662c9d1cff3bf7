"""The one place that prints results and errors.

``--json`` is a contract: exactly one JSON document on stdout,
``{"ok", "command", "data", "error"}``, even on failure. Text goes to stdout for results and
to stderr for errors, warnings and progress.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from ncctl.errors import NcctlError

current_command: ContextVar[str] = ContextVar("current_command", default="")
json_mode: ContextVar[bool] = ContextVar("json_mode", default=False)
run_context: ContextVar[dict[str, Any] | None] = ContextVar("run_context", default=None)

Renderer = Callable[["Console"], None]


def begin(command: str, as_json: bool) -> None:
    """Record which command runs and how it answers, for errors raised later."""
    current_command.set(command)
    json_mode.set(as_json)
    run_context.set(None)


def context(doc: dict[str, Any]) -> None:
    """Record what a state-changing command acts with (configuration, state directory,
    clock): ``emit`` says it, as one line on stderr (text) or ``data.context`` (JSON)."""
    run_context.set(doc)


def context_line(doc: dict[str, Any]) -> str:
    clock = doc["clock"]
    at = clock.get("at", f"({clock.get('source')})")
    when = "" if clock["kind"] == "real" else f", simulated clock {at}"
    return f"ncctl: config {doc['config']} ({doc['source']}), state {doc['state_dir']}{when}"


PIPE_WIDTH = 10_000
"""Console width when the stream is not a terminal: a pipe or a file gets whole lines (no table
row wraps or is cut with an ellipsis, whatever $COLUMNS says), so grep and awk see every row."""


def _console(stderr: bool) -> Console:
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):  # a closed or replaced stream
        tty = False
    width = None if tty else PIPE_WIDTH
    return Console(stderr=stderr, highlight=False, soft_wrap=True, width=width)


def stdout_console() -> Console:
    return _console(stderr=False)


def stderr_console() -> Console:
    return _console(stderr=True)


def envelope(command: str, data: Any, error: NcctlError | None = None) -> dict[str, Any]:
    return {
        "ok": error is None,
        "command": command,
        "data": data,
        "error": error.as_dict() if error is not None else None,
    }


def write_json(doc: dict[str, Any]) -> None:
    # ASCII only: a file name that is not UTF-8 must not make the document invalid
    sys.stdout.write(json.dumps(doc, ensure_ascii=True, default=str) + "\n")
    sys.stdout.flush()


def emit(
    data: dict[str, Any],
    render: Renderer,
    *,
    warnings: list[str] | None = None,
    failure: NcctlError | None = None,
) -> None:
    """Print a command's result: the JSON envelope, or text through ``render``.

    ``failure`` marks a result that is also a failure (drift, a broken journal): the envelope
    then has ``ok: false`` with both ``data`` and ``error``, and text mode prints the error
    under the result.
    """
    warnings = warnings or []
    ctx = run_context.get()
    if json_mode.get():
        if warnings:
            data = {**data, "warnings": warnings}
        if ctx is not None:
            data = {"context": ctx, **data}
        write_json(envelope(current_command.get(), data, failure))
        _exit_for(failure)
        return
    if ctx is not None:
        sys.stderr.write(context_line(ctx) + "\n")
    if warnings:
        err = stderr_console()
        for w in warnings:
            err.print(f"[yellow]warning:[/yellow] {w}", markup=True)
    render(stdout_console())
    if failure is not None:
        sys.stdout.flush()
        sys.stderr.write(f"ncctl: {failure.message}\n")
        if failure.hint:
            sys.stderr.write(f"hint: {failure.hint}\n")
    _exit_for(failure)


def _exit_for(failure: NcctlError | None) -> None:
    """A result that is also a failure ends the command with the failure's exit code."""
    if failure is not None:
        import typer

        raise typer.Exit(failure.exit_code)


def emit_error(err: NcctlError, command: str, as_json: bool) -> None:
    """Print an error: the JSON envelope on stdout, or two lines on stderr."""
    if as_json:
        write_json(envelope(command, None, err))
        return
    sys.stderr.write(f"ncctl: error: {err.message}\n")
    for line in err.detail_lines():
        sys.stderr.write(f"{line}\n")
    if err.hint:
        sys.stderr.write(f"hint: {err.hint}\n")
