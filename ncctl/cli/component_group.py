"""The command group of one component (``ncctl feed …``, ``ncctl session …``): start, stop,
restart and status (their views: ``ncctl/cli/views/components.py``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from ncctl.cli.command import command
from ncctl.cli.context import STATE
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


def lifecycle(command: str, force: bool, reason: str | None, *, starts: bool = False) -> Lifecycle:
    """The lifecycle of the configured components, for ``command`` (state-changing: see
    ``STATE.changing``); ``starts``: for a command that may start one (only then is a
    ``--clock`` written to ``state_dir/run/clock.json`` to share, and the order session's
    registration gate applied)."""
    from ncctl.components.lifecycle import Lifecycle
    from ncctl.runner.registration import session_gate

    STATE.changing(command, force, reason)
    gated = starts and command.startswith("session ")  # the order session's registration
    loaded = STATE.config()
    return Lifecycle(
        loaded.config.components,
        loaded.config.state_dir,
        STATE.engine(),
        STATE.now(),
        config_path=loaded.path,
        component_env=STATE.clock_env() if starts else {},
        session_gate=session_gate(loaded.config) if gated else None,
    )


def observer() -> Lifecycle:
    """The lifecycle of the configured components, to look at them only."""
    from ncctl.components.lifecycle import Lifecycle

    loaded = STATE.config()
    cfg = loaded.config
    return Lifecycle(
        cfg.components, cfg.state_dir, STATE.engine(), STATE.now(), config_path=loaded.path
    )


def component_app(name: str, group: str, what: str) -> typer.Typer:
    """The start/stop/restart/status commands of one component."""
    app = typer.Typer(help=f"Start, stop and observe the {what}.", no_args_is_help=True)

    def act(verb: str, force: bool, reason: str | None) -> ComponentAction:
        from ncctl.cli.views.components import ComponentAction

        life = lifecycle(f"{group} {verb}", force, reason, starts=verb != "stop")
        return ComponentAction(getattr(life, verb)(name, force=force, reason=reason))

    @command(
        app,
        "start",
        help=f"Start the {what}; refused outside its scheduled hours unless --force --reason.",
    )
    def start(
        ctx: CommandContext, force: ForceOpt = False, reason: ReasonOpt = None
    ) -> ComponentAction:
        return act("start", force, reason)

    @command(
        app,
        "stop",
        help=f"Stop the {what}: SIGTERM, then SIGKILL after stop_timeout_s (process backend); "
        "refused while the schedule wants it running unless --force --reason.",
    )
    def stop(
        ctx: CommandContext, force: ForceOpt = False, reason: ReasonOpt = None
    ) -> ComponentAction:
        return act("stop", force, reason)

    @command(
        app,
        "restart",
        help=f"Stop, then start the {what}; refused outside its scheduled hours, and while "
        "it runs in them, unless --force --reason.",
    )
    def restart(
        ctx: CommandContext, force: ForceOpt = False, reason: ReasonOpt = None
    ) -> ComponentAction:
        return act("restart", force, reason)

    @command(
        app,
        "status",
        help=f"Show the {what}: desired state (schedule) against actual; exit 1 on drift.",
    )
    def status(ctx: CommandContext) -> ComponentStatus:
        from ncctl.cli.times import display_zone
        from ncctl.cli.views.components import ComponentStatus

        return ComponentStatus(observer().status(name), display_zone())

    return app
