"""Where output goes: the consoles, the one document, errors (results go through
:mod:`ncctl.cli.render`).

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
from collections.abc import Sequence
from typing import IO, TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from rich.console import Console

    from ncctl.errors import NcctlError

FORMATS = ("table", "wide", "json", "yaml")
"""The values of ``-o/--output``: text (compact or wide) or one structured document."""
STRUCTURED = frozenset({"json", "yaml"})


def context_line(doc: dict[str, Any]) -> str:
    """What a state-changing command acts with, as the one line it says on stderr."""
    clock = doc["clock"]
    at = clock.get("at", f"({clock.get('source')})")
    when = "" if clock["kind"] == "real" else f", simulated clock {at}"
    return f"ncctl: config {doc['config']} ({doc['source']}), state {doc['state_dir']}{when}"


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


def _console(stderr: bool, wide: bool) -> Console:
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):  # a closed or replaced stream
        tty = False
    width = None if tty and not wide else PIPE_WIDTH
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


def stdout_console(wide: bool = False) -> Console:
    """The console of a command's text answer (``wide``: ``-o wide``)."""
    return _console(stderr=False, wide=wide)


def stderr_console() -> Console:
    """The console of warnings and progress."""
    return _console(stderr=True, wide=False)


def envelope(command: str, data: Any, error: NcctlError | None = None) -> dict[str, Any]:
    return {
        "ok": error is None,
        "command": command,
        "data": data,
        "error": error.as_dict() if error is not None else None,
    }


def write_document(doc: dict[str, Any], fmt: str) -> None:
    """The one document on stdout: JSON on one line, or YAML (``fmt``: ``yaml``)."""
    if fmt == "yaml":
        from ncctl.cli.yaml_out import dump

        text = dump(doc)
    else:
        # ASCII only: a file name that is not UTF-8 must not make the document invalid
        text = json.dumps(doc, ensure_ascii=True, default=str) + "\n"
    sys.stdout.write(text)
    sys.stdout.flush()


def emit_error(err: NcctlError, command: str, fmt: str) -> None:
    """Print an error: the envelope on stdout (``fmt`` json or yaml), or lines on stderr."""
    if fmt in STRUCTURED:
        write_document(envelope(command, None, err), fmt)
        return
    sys.stderr.write(f"ncctl: error: {err.message}\n")
    for line in err.detail_lines():
        sys.stderr.write(f"{line}\n")
    if err.hint:
        sys.stderr.write(f"hint: {err.hint}\n")
