"""``ncctl dev …``: the CME gateway simulator of a development configuration, by hand."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from ncctl.cli import output
from ncctl.cli.context import STATE
from ncctl.cli.options import JsonOpt

if TYPE_CHECKING:
    from rich.console import Console

    from ncctl.components.base import ActionResult
    from ncctl.sim.dev_gateway import GatewayBackend

app = typer.Typer(
    help="The CME iLink 3 gateway simulator of a dev configuration, on ilink.host:ilink.port, "
    "so that `ncctl party register` and the runner's Sunday registration have a gateway to "
    "talk to (the feed and session simulators are the dev components: `ncctl feed|session "
    "start`). Refused (exit 1) for a configuration whose environment is not dev, exit 78 when "
    "ilink.host is not a loopback address or the iLink secret is missing.",
    no_args_is_help=True,
)

ForegroundOpt = Annotated[
    bool,
    typer.Option(
        "--foreground",
        help="Stay attached: the simulator's log on standard error, Ctrl-C or SIGTERM stops it.",
    ),
]


def _gateway() -> GatewayBackend:
    from ncctl.sim.dev_gateway import GatewayBackend, require_dev

    loaded = STATE.config()
    require_dev(loaded.config, loaded.path)
    return GatewayBackend(loaded.config)


def _data(gateway: GatewayBackend, result: ActionResult) -> dict[str, Any]:
    return {**result.as_dict(), "status": gateway.describe(result.status)}


def render_action(gateway: GatewayBackend, result: ActionResult) -> output.Renderer:
    def draw(console: Console) -> None:
        mark = "[green]ok[/green]" if result.changed else "[dim]no-op[/dim]"
        where = f" on {gateway.address}" if result.status.running else ""
        console.print(f"{mark} gateway simulator: {result.message}{where}")

    return draw


@app.command("up")
def up(foreground: ForegroundOpt = False, json: JsonOpt = False) -> None:
    """Start the gateway simulator in the background (pidfile and instance lock under
    state_dir/run, log state_dir/log/cme_gateway.log); exit 0 when it listens, or when it was
    already running (then nothing is started). Exit 69 when it cannot listen (the port is
    taken)."""
    output.begin("dev up", json)
    gateway = _gateway()
    if not foreground:
        result = gateway.start()
        output.emit(_data(gateway, result), render_action(gateway, result))
        return

    def ready(started: ActionResult) -> None:
        from ncctl.cli.output import stderr_console

        if not json:
            stderr_console().print(
                f"gateway simulator listening on {gateway.address} (pid {started.status.pid}); "
                "Ctrl-C stops it",
                highlight=False,
            )

    result = gateway.run_foreground(ready)
    output.emit(_data(gateway, result), render_action(gateway, result))


@app.command("down")
def down(json: JsonOpt = False) -> None:
    """Stop the gateway simulator: SIGTERM, then SIGKILL after 5 s; exit 0, also when it was
    not running."""
    output.begin("dev down", json)
    gateway = _gateway()
    result = gateway.stop()
    output.emit(_data(gateway, result), render_action(gateway, result))


@app.command("status")
def status(json: JsonOpt = False) -> None:
    """Show whether the gateway simulator runs, where it listens and its files; exit 0 when it
    runs or was stopped, 1 when it ended by itself (its log tail is shown)."""
    from ncctl.errors import RefusedError

    output.begin("dev status", json)
    gateway = _gateway()
    current = gateway.status()
    data = gateway.describe(current)

    def draw(console: Console) -> None:
        pid = f" (pid {current.pid})" if current.pid else ""
        console.print(f"gateway simulator: {current.state}{pid}, {gateway.address}")
        console.print(f"  log {data['log_file']}, state {data['state_file']}")
        if current.detail:
            console.print(f"  {current.detail}", markup=False, highlight=False)
        for line in current.log_tail:
            console.print(f"  {line}", markup=False, highlight=False)

    failure = None
    if current.state == "crashed":
        failure = RefusedError(
            "the gateway simulator ended by itself"
            + (f" (exit status {current.exit_code})" if current.exit_code is not None else ""),
            hint=f"read {data['log_file']}, then `ncctl dev up`",
            code="dev.crashed",
        )
    output.emit(data, draw, failure=failure)
