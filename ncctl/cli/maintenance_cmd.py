"""``ncctl maintenance run``: one reconcile pass, the schedule driven from cron."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from ncctl.cli import output
from ncctl.cli.context import STATE
from ncctl.cli.options import JsonOpt, OverrideOpt, ReasonOpt

if TYPE_CHECKING:
    from rich.console import Console

app = typer.Typer(
    help="One reconcile pass: converge components, run the jobs that are due.",
    no_args_is_help=True,
)


def run_pass(rebuild: bool = False) -> dict[str, Any]:
    """One pass under the runner lock; a pass already running makes this one a clean no-op.
    ``rebuild``: make new job records when they are missing though the journal has runs."""
    from ncctl.errors import TemporaryError
    from ncctl.jobs.records import JobStore, job_store_path
    from ncctl.locks import hold
    from ncctl.runner.reconcile import reconciler_for

    loaded = STATE.config()
    cfg = loaded.config
    try:
        with hold(cfg.state_dir, "runner", 0.0, "maintenance run"):
            # damaged or missing job records fail the pass before the clock is shared
            JobStore(job_store_path(cfg.state_dir), expect_records=not rebuild).close()
            env = STATE.clock_env()
            report = reconciler_for(
                cfg,
                STATE.engine(),
                STATE.now(),
                config_path=loaded.path,
                simulated=STATE.simulated(),
                component_env=env,
                rebuild=rebuild,
            ).run()
    except TemporaryError as err:
        if err.code != "lock.busy":
            raise
        return {"skipped": True, "reason": err.message}
    return {"skipped": False, **report.as_dict()}


@app.command("run")
def run(
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
    json: JsonOpt = False,
) -> None:
    """Converge components to the schedule and run due jobs once; safe every minute."""
    from ncctl.errors import RefusedError

    output.begin("maintenance run", json)
    STATE.changing("maintenance run", force, reason)
    data = run_pass(rebuild)
    failure = None
    if not data["skipped"] and data["errors"]:
        first = data["errors"][0]
        failure = RefusedError(
            f"{len(data['errors'])} component action(s) failed; first: {first['message']}",
            hint=first.get("hint") or "see `ncctl status`",
            code="maintenance.failed",
        )

    def draw(console: Console) -> None:
        from ncctl.cli.times import display_zone, local, print_zone

        if data["skipped"]:
            console.print(f"skipped: {data['reason']}")
            return
        zone = display_zone()
        print_zone(console, zone)
        at = local(data["at"], zone)
        if not (data["actions"] or data["jobs"] or data["alerts"]):
            console.print(f"{at}: nothing to do")
        for a in data["actions"]:
            console.print(f"{at}: {a['component']}: {a['message']}", markup=False)
        for j in data["jobs"]:
            line = f"{at}: job {j['job']} ({j['instance']}): {j['state']}"
            if j["state"] != "done":
                line += f": {j.get('message', '')}"
            console.print(line, markup=False)
        for al in data["alerts"]:
            console.print(
                f"[red]ALERT[/red] job {al['job']} ({al['instance']}) not done when its "
                f"window closed at {local(al['window_closed'], zone)}: {al['error']}"
            )

    output.emit(data, draw, failure=failure)
