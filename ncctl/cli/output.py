"""The one place that prints results and errors.

``--json`` (``-o json``) is a contract: exactly one JSON document on stdout,
``{"ok", "command", "data", "error"}``, even on failure; ``-o yaml`` prints the same document
as YAML. Text (``-o table``, the compact default, or ``-o wide``: every column, nothing cut)
goes to stdout for results and to stderr for errors, warnings and progress; ``--quiet`` leaves
stdout empty in text mode.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from typing import IO, TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from rich.console import Console

    from ncctl.errors import NcctlError

FORMATS = ("table", "wide", "json", "yaml")
"""The values of ``-o/--output``: text (compact or wide) or one structured document."""
STRUCTURED = frozenset({"json", "yaml"})

current_command: ContextVar[str] = ContextVar("current_command", default="")
output_format: ContextVar[str] = ContextVar("output_format", default="table")
quiet_mode: ContextVar[bool] = ContextVar("quiet_mode", default=False)
display_tz: ContextVar[str | None] = ContextVar("display_tz", default=None)
"""The zone of ``--tz``, when given: every time a command shows is in it."""
run_context: ContextVar[dict[str, Any] | None] = ContextVar("run_context", default=None)
"""What a state-changing command acts with (see :func:`context`)."""

Renderer = Callable[["Console"], None]


def reset(fmt: str = "table") -> None:
    """Forget the options of a previous run; ``fmt``: the format the arguments ask for, so
    that an error found while parsing them is already printed in it."""
    current_command.set("")
    output_format.set(fmt)
    quiet_mode.set(False)
    display_tz.set(None)
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


def begin(command: str, as_json: bool) -> None:
    """Record which command runs and how it answers, for errors raised later; ``as_json``
    (its ``--json``) is the same as ``-o json``."""
    current_command.set(command)
    if as_json:
        output_format.set("json")


def structured() -> bool:
    """Whether the answer is one document (``-o json`` or ``-o yaml``), not text."""
    return output_format.get() in STRUCTURED


def wide() -> bool:
    """Whether text tables show every column in full (``-o wide``)."""
    return output_format.get() == "wide"


def shows_text() -> bool:
    """Whether a command prints text on stdout (neither a document nor ``--quiet``)."""
    return not structured() and not quiet_mode.get()


def format_from_argv(argv: Sequence[str]) -> str:
    """The output format an argument vector asks for, found before parsing it (so that a
    parse error is reported in that format): the last ``--json`` or ``-o/--output FORMAT``."""
    fmt = "table"
    for i, arg in enumerate(argv):
        value = None
        if arg == "--json":
            value = "json"
        elif arg in ("-o", "--output") and i + 1 < len(argv):
            value = argv[i + 1]
        elif arg.startswith("--output="):
            value = arg.removeprefix("--output=")
        elif arg.startswith("-o") and not arg.startswith("--"):
            value = arg[2:]
        if value in FORMATS:
            fmt = value
    return fmt


_PADDED_END = re.compile(r" +\n")

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
    width = None if tty and not wide() else PIPE_WIDTH
    file = None if tty else cast("IO[str]", _LineEnds(stream))
    return Console(file=file, stderr=stderr, highlight=False, soft_wrap=True, width=width)


class _LineEnds:
    """A pipe or a file gets no padding at the end of a line (table cells are padded to the
    width of their column): ``grep`` and ``awk`` see the text only."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        return self.stream.write(_PADDED_END.sub("\n", text))

    def flush(self) -> None:
        self.stream.flush()

    def isatty(self) -> bool:
        return False

    @property
    def encoding(self) -> str:
        return getattr(self.stream, "encoding", None) or "utf-8"

    def fileno(self) -> int:
        return self.stream.fileno()


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


def write_document(doc: dict[str, Any]) -> None:
    """The one document on stdout: JSON on one line, or YAML with ``-o yaml``."""
    if output_format.get() == "yaml":
        from ncctl.cli.yaml_out import dump

        text = dump(doc)
    else:
        # ASCII only: a file name that is not UTF-8 must not make the document invalid
        text = json.dumps(doc, ensure_ascii=True, default=str) + "\n"
    sys.stdout.write(text)
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
    if structured():
        if warnings:
            data = {**data, "warnings": warnings}
        if ctx is not None:
            data = {"context": ctx, **data}
        write_document(envelope(current_command.get(), data, failure))
        _exit_for(failure)
        return
    if ctx is not None:
        sys.stderr.write(context_line(ctx) + "\n")
    if warnings:
        err = stderr_console()
        for w in warnings:
            err.print(f"[yellow]warning:[/yellow] {w}", markup=True)
    if not quiet_mode.get():
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


def emit_error(err: NcctlError, command: str) -> None:
    """Print an error: the envelope on stdout (``-o json|yaml``), or lines on stderr."""
    if structured():
        write_document(envelope(command, None, err))
        return
    sys.stderr.write(f"ncctl: error: {err.message}\n")
    for line in err.detail_lines():
        sys.stderr.write(f"{line}\n")
    if err.hint:
        sys.stderr.write(f"hint: {err.hint}\n")
