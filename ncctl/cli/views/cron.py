"""Views of ``ncctl cron``: the crontab line."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ncctl.cli.render import view

if TYPE_CHECKING:
    from rich.console import Console

    from ncctl.cli.context import OutputOptions


@dataclass(frozen=True)
class CronLines:
    lines: list[str]
    notes: list[str]


def text(result: CronLines, console: Console, out: OutputOptions) -> None:
    console.print("# ncctl: one reconcile pass a minute (crontab -e)", markup=False)
    for line in result.lines:
        console.print(line, markup=False, soft_wrap=True)


@view(CronLines, text)
def data(result: CronLines) -> dict[str, Any]:
    return {"lines": result.lines, "notes": result.notes}
