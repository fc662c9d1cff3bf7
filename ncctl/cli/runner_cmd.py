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


scheduler_app = typer.Typer(
    help="The schedule engine as a daemon (systemd Type=notify).", no_args_is_help=True
)


@scheduler_app.command("run")
def scheduler_run() -> None:
    """Run until SIGTERM: a reconcile pass at every scheduled event and every 15 s."""
    from ncctl.errors import UsageError
    from ncctl.runner.daemon import Daemon

    output.begin("scheduler run", False)
    if STATE.clock_at is not None:
        raise UsageError(
            "the daemon runs on the machine's clock; --clock does not apply",
            hint="use `ncctl demo` to watch a simulated week",
        )
    loaded = STATE.config()
    daemon = Daemon(loaded.config, STATE.engine(), loaded.path, serve_metrics=metrics_server())
    daemon.install_signal_handlers()
    raise typer.Exit(daemon.run())


def metrics_server() -> Any:
    """A starter of the metrics endpoint for the daemon, or None when metrics are absent."""
    import importlib

    try:
        metrics = importlib.import_module("ncctl.metrics")
    except ImportError:
        return None
    loaded = STATE.config()
    starter = getattr(metrics, "daemon_server", None)
    if starter is None:
        return None
    return starter(loaded.config, STATE.engine(), loaded.path)
