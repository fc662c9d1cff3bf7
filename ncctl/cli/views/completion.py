"""Views of ``ncctl completion``: the script for a shell."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ncctl.cli.render import view

if TYPE_CHECKING:
    from rich.console import Console

    from ncctl.cli.context import OutputOptions


@dataclass(frozen=True)
class CompletionScript:
    shell: str
    script: str
    """Without the final newline."""


def text(result: CompletionScript, console: Console, out: OutputOptions) -> None:
    print(result.script, file=console.file)


@view(CompletionScript, text)
def data(result: CompletionScript) -> dict[str, Any]:
    return {"shell": result.shell, "script": result.script + "\n"}
