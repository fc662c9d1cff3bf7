"""``ncctl scheduler run``: the schedule engine as a daemon (systemd Type=notify)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from ncctl.cli import output
from ncctl.cli.context import STATE
from ncctl.cli.options import OverrideOpt, ReasonOpt

if TYPE_CHECKING:
    from prometheus_client.registry import Collector

app = typer.Typer(
    help="The schedule engine as a daemon (systemd Type=notify).", no_args_is_help=True
)


@app.command("run")
def scheduler_run(force: OverrideOpt = False, reason: ReasonOpt = None) -> None:
    """Run until SIGTERM: a reconcile pass at every scheduled event and every 15 s.

    Logs one JSON line per event on stderr; with --json (-o json|yaml) it prints one document
    on stdout when it stops (its exit code, passes run and passes failed)."""
    from ncctl.appconfig.development import is_development
    from ncctl.errors import UsageError
    from ncctl.runner.daemon import Daemon

    output.begin("scheduler run", False)
    config = STATE.config().config
    simulated = STATE.clock_at is not None or config.clock.file is not None
    if not (simulated and is_development(config)):  # on a real site: refused, exit 1
        STATE.changing("scheduler run", force, reason)
    if simulated:
        raise UsageError(
            "the daemon runs on the machine's clock; --clock and [clock] do not apply",
            hint="use `ncctl demo` to watch a simulated week",
        )
    loaded = STATE.config()
    daemon = Daemon(loaded.config, STATE.engine(), loaded.path, collector=metrics_collector())
    daemon.install_signal_handlers()
    code = daemon.run()
    # its log lines went to stderr; with -o json|yaml one document says how it ended
    data = {"exit_code": code, "passes": daemon.passes, "failed_passes": daemon.failed}
    output.emit(data, lambda console: None)
    raise typer.Exit(code)


def metrics_collector() -> Collector:
    """What the daemon serves on /metrics: every scrape computes the values afresh at the
    machine's time; a source that fails is logged."""
    import datetime as dt

    from ncctl.metrics.collector import collect
    from ncctl.runner.daemon import log

    return collect(
        STATE.config().config,
        STATE.engine(),
        lambda: dt.datetime.now(dt.UTC),
        on_error=lambda source, message: log("metrics_source_failed", source=source, error=message),
    )
