"""``ncctl maintenance run``: one reconcile pass, the schedule driven from cron."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from ncctl.cli.command import command
from ncctl.cli.options import OverrideOpt, ReasonOpt

if TYPE_CHECKING:
    from ncctl.cli.context import CommandContext
    from ncctl.cli.views.maintenance import MaintenancePass

app = typer.Typer(
    help="One reconcile pass: converge components, run the jobs that are due.",
    no_args_is_help=True,
)


def run_pass(ctx: CommandContext, rebuild: bool = False) -> dict[str, Any]:
    """One pass under the runner lock; a pass already running makes this one a clean no-op.
    ``rebuild``: make new job records when they are missing though the journal has runs."""
    from ncctl.errors import TemporaryError
    from ncctl.jobs.records import JobStore, job_store_path
    from ncctl.locks import hold
    from ncctl.runner.reconcile import reconciler_for

    loaded = ctx.config()
    cfg = loaded.config
    try:
        with hold(cfg.state_dir, "runner", 0.0, ctx.command):
            # damaged or missing job records fail the pass before the clock is shared
            JobStore(job_store_path(cfg.state_dir), expect_records=not rebuild).close()
            env = ctx.clock_env()
            report = reconciler_for(
                cfg,
                ctx.engine(),
                ctx.now(),
                config_path=loaded.path,
                simulated=ctx.simulated(),
                component_env=env,
                rebuild=rebuild,
            ).run()
    except TemporaryError as err:
        if err.code != "lock.busy":
            raise
        return {"skipped": True, "reason": err.message}
    return {"skipped": False, **report.as_dict()}


@command(app, "run")
def run(
    ctx: CommandContext,
    rebuild: Annotated[
        bool,
        typer.Option(
            "--rebuild",
            help="Make new job records (runner.sqlite) when they are missing although the "
            "journal records job runs; the jobs due in the last seven days run again.",
        ),
    ] = False,
    force: OverrideOpt = False,
    reason: ReasonOpt = None,
) -> MaintenancePass:
    """Converge components to the schedule and run due jobs once; safe every minute."""
    from ncctl.cli.views.maintenance import MaintenancePass

    ctx.changing(force, reason)
    data = run_pass(ctx, rebuild)
    return MaintenancePass(data, None if data["skipped"] else ctx.display_zone())
