"""``ncctl scheduler run``: the schedule engine as a daemon (systemd Type=notify)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from ncctl.cli.command import command
from ncctl.cli.options import OverrideOpt, ReasonOpt

if TYPE_CHECKING:
    from prometheus_client.registry import Collector

    from ncctl.cli.context import CommandContext
    from ncctl.cli.views.scheduler import DaemonStopped

app = typer.Typer(
    help="The schedule engine as a daemon (systemd Type=notify).", no_args_is_help=True
)


@command(app, "run", json=False)
def scheduler_run(
    ctx: CommandContext, force: OverrideOpt = False, reason: ReasonOpt = None
) -> DaemonStopped:
    """Run until SIGTERM: a reconcile pass at every scheduled event and every
    runner.reconcile_interval_s (default 15 s).

    Logs one JSON line per event on stderr; with --json (-o json|yaml) it prints one document
    on stdout when it stops (its exit code, passes run and passes failed)."""
    from ncctl.appconfig.development import is_development
    from ncctl.cli.views.scheduler import DaemonStopped
    from ncctl.errors import UsageError
    from ncctl.runner.daemon import Daemon

    config = ctx.config().config
    simulated = ctx.clock_at is not None or config.clock.file is not None
    if not (simulated and is_development(config)):  # on a real site: refused, exit 1
        ctx.changing(force, reason)
    if simulated:
        raise UsageError(
            "the daemon runs on the machine's clock; --clock and [clock] do not apply",
            hint="use `ncctl demo` to watch a simulated week",
        )
    loaded = ctx.config()
    daemon = Daemon(loaded.config, ctx.engine(), loaded.path, collector=metrics_collector(ctx))
    daemon.install_signal_handlers()
    code = daemon.run()
    # its log lines went to stderr; with -o json|yaml one document says how it ended
    return DaemonStopped(code, daemon.passes, daemon.failed)


def metrics_collector(ctx: CommandContext) -> Collector:
    """What the daemon serves on /metrics: every scrape computes the values afresh at the
    machine's time; a source that fails is logged."""
    import datetime as dt

    from ncctl.metrics.collector import collect
    from ncctl.runner.daemon import log

    return collect(
        ctx.config().config,
        ctx.engine(),
        lambda: dt.datetime.now(dt.UTC),
        on_error=lambda source, message: log("metrics_source_failed", source=source, error=message),
    )
