"""Views of ``ncctl dev …``: the gateway simulator of a development configuration."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ncctl.cli.render import view

if TYPE_CHECKING:
    from rich.console import Console

    from ncctl.cli.context import OutputOptions
    from ncctl.components.backend import ActionResult, ComponentStatus
    from ncctl.errors import NcctlError


@dataclass(frozen=True)
class GatewayAction:
    """What ``dev up`` or ``dev down`` did."""

    result: ActionResult
    address: str
    """Where the simulator listens (``ilink.host:ilink.port``)."""
    status: dict[str, Any]
    """Its status after the action, described (``GatewayBackend.describe``)."""


def action_text(shown: GatewayAction, console: Console, out: OutputOptions) -> None:
    result = shown.result
    mark = "[green]ok[/green]" if result.changed else "[dim]no-op[/dim]"
    where = f" on {shown.address}" if result.status.running else ""
    console.print(f"{mark} gateway simulator: {result.message}{where}")


@view(GatewayAction, action_text)
def action_data(shown: GatewayAction) -> dict[str, Any]:
    return {**shown.result.as_dict(), "status": shown.status}


@dataclass(frozen=True)
class GatewayStatus:
    """Whether the simulator runs, where it listens and its files."""

    current: ComponentStatus
    address: str
    described: dict[str, Any]
    """``current`` described (``GatewayBackend.describe``): the JSON answer."""

    def failure(self) -> NcctlError | None:
        """A simulator that ended by itself (exit 1)."""
        from ncctl.errors import RefusedError

        current = self.current
        if current.state != "crashed":
            return None
        return RefusedError(
            "the gateway simulator ended by itself"
            + (f" (exit status {current.exit_code})" if current.exit_code is not None else ""),
            hint=f"read {self.described['log_file']}, then `ncctl dev up`",
            code="dev.crashed",
        )


def status_text(shown: GatewayStatus, console: Console, out: OutputOptions) -> None:
    current = shown.current
    pid = f" (pid {current.pid})" if current.pid else ""
    console.print(f"gateway simulator: {current.state}{pid}, {shown.address}")
    console.print(f"  log {shown.described['log_file']}, state {shown.described['state_file']}")
    if current.detail:
        console.print(f"  {current.detail}", markup=False, highlight=False)
    for line in current.log_tail:
        console.print(f"  {line}", markup=False, highlight=False)


@view(GatewayStatus, status_text)
def status_data(shown: GatewayStatus) -> dict[str, Any]:
    return shown.described
