"""``ncctl dev …``: the CME gateway simulator of a development configuration, by hand."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from ncctl.cli.command import command
from ncctl.cli.options import JsonOpt

if TYPE_CHECKING:
    from ncctl.cli.context import CommandContext
    from ncctl.cli.views.dev import GatewayAction, GatewayStatus
    from ncctl.components.backend import ActionResult
    from ncctl.runner.dev_gateway import GatewayBackend

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


def _gateway(ctx: CommandContext) -> GatewayBackend:
    from ncctl.runner.dev_gateway import GatewayBackend, require_dev

    loaded = ctx.config()
    require_dev(loaded.config, loaded.path)
    return GatewayBackend(loaded.config)


def _action(gateway: GatewayBackend, result: ActionResult) -> GatewayAction:
    from ncctl.cli.views.dev import GatewayAction

    return GatewayAction(result, gateway.address, gateway.describe(result.status))


@command(app, "up")
def up(
    ctx: CommandContext, foreground: ForegroundOpt = False, json: JsonOpt = False
) -> GatewayAction:
    """Start the gateway simulator in the background (pidfile and instance lock under
    state_dir/run, log state_dir/log/cme_gateway.log); exit 0 when it listens, or when it was
    already running (then nothing is started). Exit 69 when it cannot listen (the port is
    taken)."""
    gateway = _gateway(ctx)
    if not foreground:
        return _action(gateway, gateway.start())

    def ready(started: ActionResult) -> None:
        from ncctl.cli.output import stderr_console

        if not json:
            stderr_console().print(
                f"gateway simulator listening on {gateway.address} (pid {started.status.pid}); "
                "Ctrl-C stops it",
                highlight=False,
            )

    return _action(gateway, gateway.run_foreground(ready))


@command(app, "down")
def down(ctx: CommandContext) -> GatewayAction:
    """Stop the gateway simulator: SIGTERM, then SIGKILL after 5 s; exit 0, also when it was
    not running."""
    gateway = _gateway(ctx)
    return _action(gateway, gateway.stop())


@command(app, "status")
def status(ctx: CommandContext) -> GatewayStatus:
    """Show whether the gateway simulator runs, where it listens and its files; exit 0 when it
    runs or was stopped, 1 when it ended by itself (its log tail is shown)."""
    from ncctl.cli.views.dev import GatewayStatus

    gateway = _gateway(ctx)
    current = gateway.status()
    return GatewayStatus(current, gateway.address, gateway.describe(current))
