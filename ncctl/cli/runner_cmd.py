"""``ncctl maintenance run``, ``ncctl cron show``: the schedule driven from cron."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from ncctl.cli import output
from ncctl.cli.context import STATE
from ncctl.cli.options import JsonOpt

if TYPE_CHECKING:
    from rich.console import Console

maintenance_app = typer.Typer(
    help="One reconcile pass: converge components, run the jobs that are due.",
    no_args_is_help=True,
)
cron_app = typer.Typer(help="Run ncctl from cron.", no_args_is_help=True)


def run_pass() -> dict[str, Any]:
    """One pass under the runner lock; a pass already running makes this one a clean no-op."""
    from ncctl.errors import TemporaryError
    from ncctl.locks import hold
    from ncctl.runner.reconcile import Reconciler
    from ncctl.runner.registration import registration_hook

    loaded = STATE.config()
    cfg = loaded.config
    try:
        with hold(cfg.state_dir, "runner", 0.0, "maintenance run"):
            report = Reconciler(
                cfg,
                STATE.engine(),
                STATE.now(),
                config_path=loaded.path,
                registration_hook=registration_hook(cfg),
            ).run()
    except TemporaryError as err:
        if err.code != "lock.busy":
            raise
        return {"skipped": True, "reason": err.message}
    return {"skipped": False, **report.as_dict()}


@maintenance_app.command("run")
def run(json: JsonOpt = False) -> None:
    """Converge components to the schedule and run due jobs once; safe every minute."""
    from ncctl.errors import RefusedError

    output.begin("maintenance run", json)
    data = run_pass()
    failure = None
    if not data["skipped"] and data["errors"]:
        first = data["errors"][0]
        failure = RefusedError(
            f"{len(data['errors'])} component action(s) failed; first: {first['message']}",
            hint=first.get("hint") or "see `ncctl status`",
            code="maintenance.failed",
        )

    def draw(console: Console) -> None:
        if data["skipped"]:
            console.print(f"skipped: {data['reason']}")
            return
        if not (data["actions"] or data["jobs"] or data["alerts"]):
            console.print(f"{data['at']}: nothing to do")
        for a in data["actions"]:
            console.print(f"{data['at']}: {a['component']}: {a['message']}", markup=False)
        for j in data["jobs"]:
            line = f"{data['at']}: job {j['job']} ({j['instance']}): {j['state']}"
            if j["state"] != "done":
                line += f": {j.get('message', '')}"
            console.print(line, markup=False)
        for al in data["alerts"]:
            console.print(
                f"[red]ALERT[/red] job {al['job']} ({al['instance']}) not done when its "
                f"window closed at {al['window_closed']}: {al['error']}"
            )

    output.emit(data, draw, failure=failure)


@cron_app.command("show")
def show(json: JsonOpt = False) -> None:
    """Print the crontab line that runs `ncctl maintenance run` every minute."""
    output.begin("cron show", json)
    loaded = STATE.config()
    exe = shutil.which("ncctl") or str(Path(sys.argv[0]).absolute())
    state = loaded.config.state_dir.absolute()
    config = loaded.path.absolute()
    line = (
        f"* * * * * cd {Path.cwd()} && {exe} --config {config} maintenance run "
        f">> {state / 'log' / 'maintenance.log'} 2>&1"
    )
    notes = [
        "cron runs in the machine's time zone at minute resolution; the pass itself works in "
        "Chicago time, so any zone is fine",
        "a minute missed (host down) is caught up by the next pass",
    ]

    def draw(console: Console) -> None:
        console.print("# ncctl: one reconcile pass a minute (crontab -e)", markup=False)
        console.print(line, markup=False, soft_wrap=True)

    output.emit({"lines": [line], "notes": notes}, draw)
