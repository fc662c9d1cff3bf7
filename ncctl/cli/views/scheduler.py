"""Views of ``ncctl scheduler run``: how the daemon ended (its events went to stderr)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ncctl.cli.render import view

if TYPE_CHECKING:
    from rich.console import Console

    from ncctl.cli.context import OutputOptions


@dataclass(frozen=True)
class DaemonStopped:
    exit_code: int
    passes: int
    failed_passes: int

    def exit_status(self) -> int:
        """The daemon's own exit code (the answer is ``ok`` all the same)."""
        return self.exit_code


def stopped_text(result: DaemonStopped, console: Console, out: OutputOptions) -> None:
    """Nothing: the daemon's log lines on stderr told it all."""


@view(DaemonStopped, stopped_text)
def stopped_data(result: DaemonStopped) -> dict[str, Any]:
    return {
        "exit_code": result.exit_code,
        "passes": result.passes,
        "failed_passes": result.failed_passes,
    }
