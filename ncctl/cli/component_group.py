"""The command group of one component (``ncctl feed …``, ``ncctl session …``): start, stop,
restart and status; and the views of component status that ``ncctl status`` shares."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from ncctl.cli import output
from ncctl.cli.context import STATE
from ncctl.cli.options import JsonOpt, ReasonOpt

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from rich.console import Console

    from ncctl.components.base import ActionResult
    from ncctl.components.lifecycle import Lifecycle
    from ncctl.errors import NcctlError

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
        loaded.config,
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
    return Lifecycle(loaded.config, STATE.engine(), STATE.now(), config_path=loaded.path)


def render_action(result: ActionResult) -> output.Renderer:
    def draw(console: Console) -> None:
        mark = "[green]ok[/green]" if result.changed else "[dim]no-op[/dim]"
        console.print(f"{mark} {result.name}: {result.message}")

    return draw


def render_status(rows: list[dict[str, Any]], zone: ZoneInfo) -> output.Renderer:
    """Components: desired against actual state, ``since`` in ``zone``."""

    def draw(console: Console) -> None:
        from rich.markup import escape
        from rich.table import Table

        from ncctl.cli.times import local

        wide = output.wide()
        table = Table(box=None, pad_edge=False)
        for col in ("component", "backend", "desired", "actual", "pid", "since", ""):
            table.add_column(col)
        if wide:
            table.add_column("detail")
        for row in rows:
            flag = "[red]DRIFT[/red]" if row["drift"] else "[green]in sync[/green]"
            actual = row["actual"]
            if row.get("exit_code") is not None:
                actual += f" (exit {row['exit_code']})"
            cells = [
                row["name"],
                row["backend"],
                row["desired"],
                actual,
                str(row["pid"] or ""),
                local(row["since"], zone),
                flag,
            ]
            if wide:
                cells.append(escape(str(row.get("detail") or "")))
            table.add_row(*cells)
        console.print(table)
        for warning in pidfile_warnings(rows):
            console.print(f"warning: {warning}", markup=False, highlight=False)
        for row in rows:
            if row["actual"] == "crashed" and row.get("log_tail"):
                console.print(f"[bold]{row['name']}[/bold] log tail:")
                for line in row["log_tail"]:
                    console.print(f"  {line}", markup=False, highlight=False)

    return draw


def pidfile_warnings(rows: list[dict[str, Any]]) -> list[str]:
    """One warning per component whose pidfile is damaged (and so not trusted)."""
    from ncctl.components.process import PIDFILE_DAMAGED

    return [
        f"{r['name']}: {r['detail']}"
        for r in rows
        if str(r.get("detail")).startswith(PIDFILE_DAMAGED)
    ]


def drift_error(rows: list[dict[str, Any]]) -> NcctlError | None:
    """The failure that a drift between schedule and reality is (exit 1), or None."""
    from ncctl.errors import RefusedError

    drifting = [r for r in rows if r["drift"]]
    if not drifting:
        return None
    what = ", ".join(f"{r['name']} is {r['actual']} but should be {r['desired']}" for r in drifting)
    return RefusedError(
        f"drift: {what}",
        hint="`ncctl feed|session start|stop` converges by hand",
        code="drift",
    )


def component_app(name: str, group: str, what: str) -> typer.Typer:
    """The start/stop/restart/status commands of one component."""
    app = typer.Typer(help=f"Start, stop and observe the {what}.", no_args_is_help=True)

    def act(verb: str, force: bool, reason: str | None, json: bool) -> None:
        command = f"{group} {verb}"
        output.begin(command, json)
        life = lifecycle(command, force, reason, starts=verb != "stop")
        result: ActionResult = getattr(life, verb)(name, force=force, reason=reason)
        output.emit(result.as_dict(), render_action(result))

    @app.command(
        "start",
        help=f"Start the {what}; refused outside its scheduled hours unless --force --reason.",
    )
    def start(
        force: ForceOpt = False,
        reason: ReasonOpt = None,
        json: JsonOpt = False,
    ) -> None:
        act("start", force, reason, json)

    @app.command(
        "stop",
        help=f"Stop the {what}: SIGTERM, then SIGKILL after stop_timeout_s (process backend); "
        "refused while the schedule wants it running unless --force --reason.",
    )
    def stop(
        force: ForceOpt = False,
        reason: ReasonOpt = None,
        json: JsonOpt = False,
    ) -> None:
        act("stop", force, reason, json)

    @app.command(
        "restart",
        help=f"Stop, then start the {what}; refused outside its scheduled hours, and while "
        "it runs in them, unless --force --reason.",
    )
    def restart(
        force: ForceOpt = False,
        reason: ReasonOpt = None,
        json: JsonOpt = False,
    ) -> None:
        act("restart", force, reason, json)

    @app.command(
        "status",
        help=f"Show the {what}: desired state (schedule) against actual; exit 1 on drift.",
    )
    def status(json: JsonOpt = False) -> None:

        from ncctl.cli.schedule_cmd import with_zone
        from ncctl.cli.times import display_zone

        output.begin(f"{group} status", json)
        row = observer().status(name)
        zone = display_zone()
        output.emit(
            row,
            with_zone(zone, render_status([row], zone)),
            warnings=pidfile_warnings([row]) if output.structured() else [],
            failure=drift_error([row]),
        )

    return app
