"""The command group of one component (``ncctl feed …``, ``ncctl session …``): start, stop,
restart and status (their views: ``ncctl/cli/views/components.py``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from ncctl.cli.command import command
from ncctl.cli.options import ReasonOpt

if TYPE_CHECKING:
    from ncctl.cli.context import CommandContext
    from ncctl.cli.views.components import ComponentAction, ComponentStatus
    from ncctl.components.lifecycle import Lifecycle

ForceOpt = Annotated[
    bool,
    typer.Option(
        "--force",
        help="Override the guards: the schedule, the party registration, a simulated clock "
        "on a non-development configuration (needs --reason).",
    ),
]


def lifecycle(
    ctx: CommandContext, force: bool, reason: str | None, *, starts: bool = False
) -> Lifecycle:
    """The lifecycle of the configured components, for the command of ``ctx`` (state-changing:
    see ``CommandContext.changing``); ``starts``: for a command that may start one (only then is a
    ``--clock`` written to ``state_dir/run/clock.json`` to share, and the order session's
    registration gate applied)."""
    from ncctl.appconfig.component_env import component_environments
    from ncctl.components.lifecycle import Lifecycle
    from ncctl.runner.registration import session_gate

    ctx.changing(force, reason)
    gated = starts and ctx.command.startswith("session ")  # the order session's registration
    loaded = ctx.config()
    return Lifecycle(
        loaded.config.components,
        loaded.config.state_dir,
        ctx.engine(),
        ctx.now(),
        environments=component_environments(loaded.config),
        component_env=ctx.clock_env() if starts else {},
        session_gate=session_gate(loaded.config) if gated else None,
    )


def observer(ctx: CommandContext) -> Lifecycle:
    """The lifecycle of the configured components, to look at them only."""
    from ncctl.components.lifecycle import Lifecycle

    loaded = ctx.config()
    return Lifecycle(loaded.config.components, loaded.config.state_dir, ctx.engine(), ctx.now())


def component_app(name: str, what: str) -> typer.Typer:
    """The start/stop/restart/status commands of one component."""
    app = typer.Typer(help=f"Start, stop and observe the {what}.", no_args_is_help=True)

    def act(ctx: CommandContext, verb: str, force: bool, reason: str | None) -> ComponentAction:
        from ncctl.cli.views.components import ComponentAction

        life = lifecycle(ctx, force, reason, starts=verb != "stop")
        return ComponentAction(getattr(life, verb)(name, force=force, reason=reason))

    @command(
        app,
        "start",
        help=f"Start the {what}; refused outside its scheduled hours unless --force --reason.",
    )
    def start(
        ctx: CommandContext, force: ForceOpt = False, reason: ReasonOpt = None
    ) -> ComponentAction:
        return act(ctx, "start", force, reason)

    @command(
        app,
        "stop",
        help=f"Stop the {what}: SIGTERM, then SIGKILL after stop_timeout_s (process backend); "
        "refused while the schedule wants it running unless --force --reason.",
    )
    def stop(
        ctx: CommandContext, force: ForceOpt = False, reason: ReasonOpt = None
    ) -> ComponentAction:
        return act(ctx, "stop", force, reason)

    @command(
        app,
        "restart",
        help=f"Stop, then start the {what}; refused outside its scheduled hours, and while "
        "it runs in them, unless --force --reason.",
    )
    def restart(
        ctx: CommandContext, force: ForceOpt = False, reason: ReasonOpt = None
    ) -> ComponentAction:
        return act(ctx, "restart", force, reason)

    @command(
        app,
        "status",
        help=f"Show the {what}: desired state (schedule) against actual; exit 1 on drift.",
    )
    def status(ctx: CommandContext) -> ComponentStatus:
        from ncctl.cli.views.components import ComponentStatus

        return ComponentStatus(observer(ctx).status(name), ctx.display_zone())

    return app
