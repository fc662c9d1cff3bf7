"""``ncctl maintenance run``, ``ncctl cron show``: the schedule driven from cron."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ncctl.cli import output
from ncctl.cli.context import STATE
from ncctl.cli.options import JsonOpt, OverrideOpt, ReasonOpt, check_speed

if TYPE_CHECKING:
    from rich.console import Console

maintenance_app = typer.Typer(
    help="One reconcile pass: converge components, run the jobs that are due.",
    no_args_is_help=True,
)
cron_app = typer.Typer(help="Run ncctl from cron.", no_args_is_help=True)


def run_pass(rebuild: bool = False) -> dict[str, Any]:
    """One pass under the runner lock; a pass already running makes this one a clean no-op.
    ``rebuild``: make new job records when they are missing though the journal has runs."""
    from ncctl.errors import TemporaryError
    from ncctl.locks import hold
    from ncctl.preflight.run import preflight_hook
    from ncctl.runner.jobs import JobStore, job_store_path
    from ncctl.runner.reconcile import Reconciler
    from ncctl.runner.registration import registration_hook, session_gate

    loaded = STATE.config()
    cfg = loaded.config
    try:
        with hold(cfg.state_dir, "runner", 0.0, "maintenance run"):
            # damaged or missing job records fail the pass before the clock is shared
            JobStore(job_store_path(cfg.state_dir), expect_records=not rebuild).close()
            env = STATE.clock_env()
            report = Reconciler(
                cfg,
                STATE.engine(),
                STATE.now(),
                config_path=loaded.path,
                registration_hook=registration_hook(cfg),
                preflight_hook=preflight_hook(simulated=STATE.simulated()),
                session_gate=session_gate(cfg),
                component_env=env,
                rebuild=rebuild,
            ).run()
    except TemporaryError as err:
        if err.code != "lock.busy":
            raise
        return {"skipped": True, "reason": err.message}
    return {"skipped": False, **report.as_dict()}


@maintenance_app.command("run")
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
def scheduler_run(force: OverrideOpt = False, reason: ReasonOpt = None) -> None:
    """Run until SIGTERM: a reconcile pass at every scheduled event and every 15 s.

    Logs one JSON line per event on stderr; with --json (-o json|yaml) it prints one document
    on stdout when it stops (its exit code, passes run and passes failed)."""
    from ncctl.development import is_development
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
    daemon = Daemon(loaded.config, STATE.engine(), loaded.path, serve_metrics=metrics_server())
    daemon.install_signal_handlers()
    code = daemon.run()
    # its log lines went to stderr; with -o json|yaml one document says how it ended
    data = {"exit_code": code, "passes": daemon.passes, "failed_passes": daemon.failed}
    output.emit(data, lambda console: None)
    raise typer.Exit(code)


def metrics_server() -> Callable[[], Callable[[], None]]:
    """For the daemon: start the metrics endpoint on [metrics] listen:port, return its stop."""
    loaded = STATE.config()
    engine = STATE.engine()

    def start() -> Callable[[], None]:
        import datetime as dt

        from ncctl.metrics import collect, serve
        from ncctl.runner.daemon import log

        cfg = loaded.config
        registry = collect(
            cfg,
            engine,
            lambda: dt.datetime.now(dt.UTC),
            loaded.path,
            on_error=lambda source, message: log(
                "metrics_source_failed", source=source, error=message
            ),
        )
        server = serve(registry, cfg.metrics.listen, cfg.metrics.port, tls=cfg.metrics.tls())
        log("metrics", url=server.url)
        return server.stop

    return start


def demo(
    week: Annotated[
        str | None,
        typer.Option(
            "--week",
            help="Simulate the week holding this date (default: the coming week).",
            metavar="DATE",
        ),
    ] = None,
    minutes: Annotated[
        float,
        typer.Option("--minutes", help="Real minutes the simulated week takes.", min=0.1, max=600),
    ] = 2.5,
    json: JsonOpt = False,
) -> None:
    """Live a whole simulated CME week on the dev configuration in a few minutes.

    Sunday 14:55 CT to Friday 16:05 CT on a simulated clock shared with the simulators, in a
    fresh directory `demo` of the state directory (relative paths of the configuration are
    taken from there); exit 0 only if every scheduled action happened.
    """
    import datetime as dt

    from ncctl import config
    from ncctl.errors import RefusedError
    from ncctl.runner.demo import Demo
    from ncctl.schedule.timeparse import parse_date

    output.begin("demo", json)
    STATE.changing(
        "demo",
        simulated=True,
        hint="run the demo on a development configuration: the embedded one (no --config, "
        "no $NCCTL_CONFIG) or configs/dev.toml",
    )
    loaded = STATE.config()
    engine = STATE.engine()
    if week is not None:
        day = parse_date(week)
    else:
        today = dt.datetime.now(engine.zone).date()
        day = today + dt.timedelta(days=(6 - today.weekday()) % 7 or 7)
    sunday = engine.week_start(dt.datetime.combine(day, dt.time(12), tzinfo=engine.zone)).date()
    view = _DemoView(enabled=output.shows_text())
    workdir = loaded.config.state_dir.absolute() / "demo"
    runner = Demo(
        # relative paths of the configuration taken from the demo's own fresh directory
        config.validate_document(loaded.document, str(loaded.path), base=workdir),
        config_path=loaded.path,
        engine=engine,
        workdir=workdir,
        sunday=sunday,
        minutes=minutes,
        listener=view.on,
    )
    with view:
        result = runner.run()
    data = result.as_dict()
    failure = None
    if not result.ok:
        problems = (
            result.problems
            + [f"{e.at}: {p}" for e in result.events for p in e.problems]
            + result.uploads_missing
        )
        failure = RefusedError(
            f"the simulated week was not as scheduled: {len(problems)} problem(s); first: "
            f"{problems[0] if problems else 'journal'}",
            hint=f"read the summary above; logs are under {workdir}",
            code="demo.failed",
        )

    def draw(console: Console) -> None:
        from rich.table import Table

        from ncctl.cli.times import display_zone, print_zone

        zone = display_zone()
        print_zone(console, zone)
        table = Table(title=f"week of {result.week}", box=None, pad_edge=False)
        for col in ("at", "events", "late (sim s)", "actions and jobs", ""):
            table.add_column(col)
        for e in result.events:
            at = dt.datetime.fromisoformat(e.at).astimezone(zone).strftime("%a %H:%M %Z")
            mark = (
                "[green]ok[/green]"
                if not e.problems
                else "[red]" + "; ".join(e.problems) + "[/red]"
            )
            table.add_row(
                at, ", ".join(e.events), f"{e.lateness_s:.3f}", "; ".join(e.actions + e.jobs), mark
            )
        console.print(table)
        console.print(
            f"{len(result.events)} event instants in {result.real_seconds:.1f} s real "
            f"(x{result.speed:g}); uploads verified: {result.uploads_verified}; party-details "
            f"rows in the audit trail: {result.registration_rows}; order-session logons at the "
            f"gateway: {result.order_session_establishments}; journal "
            f"{'intact' if result.journal_intact else 'BROKEN'} ({result.journal_lines} lines)"
        )

    output.emit(data, draw, failure=failure)


class _DemoView:
    """A Rich live view on a TTY, plain progress lines otherwise, nothing with --json."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.tty = enabled and sys.stdout.isatty()
        self.live: Any = None
        self.now = ""
        self.total = 0
        self.done = 0
        self.seen: dict[str, Any] = {}
        self.recent: list[str] = []
        self.counts = {"rotate": 0, "upload": 0, "party_registration": 0}

    def __enter__(self) -> _DemoView:
        if self.tty:
            from rich.live import Live

            self.live = Live(self._render(), refresh_per_second=8, transient=False)
            self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.__exit__(None, None, None)

    def _render(self) -> Any:
        import datetime as dt

        from rich.panel import Panel
        from rich.progress_bar import ProgressBar
        from rich.table import Table

        clock = ""
        if self.now:
            from zoneinfo import ZoneInfo

            local = dt.datetime.fromisoformat(self.now).astimezone(ZoneInfo("America/Chicago"))
            clock = local.strftime("%a %Y-%m-%d %H:%M:%S %Z")
        grid = Table.grid(padding=(0, 2))
        grid.add_row("[bold]simulated time[/bold]", clock)
        grid.add_row(
            "[bold]week[/bold]",
            ProgressBar(total=max(self.total, 1), completed=self.done, width=40),
        )
        for name in ("feed_handler", "order_session"):
            state = self.seen.get(name, "stopped")
            colour = "green" if state == "running" else "dim"
            grid.add_row(f"[bold]{name}[/bold]", f"[{colour}]{state}[/{colour}]")
        grid.add_row(
            "[bold]market / L3 loop[/bold]",
            f"{self.seen.get('market_state', 'CLOSED')} / {self.seen.get('l3_loop', 'off')}",
        )
        grid.add_row(
            "[bold]jobs done[/bold]",
            f"registrations {self.counts['party_registration']}, rotations "
            f"{self.counts['rotate']}, uploads {self.counts['upload']}",
        )
        for line in self.recent[-6:]:
            grid.add_row("", line)
        return Panel(grid, title="ncctl demo: a simulated CME week")

    def on(self, kind: str, data: dict[str, Any]) -> None:
        if not self.enabled:
            return
        if kind == "tick":
            self.now = data["now"]
        elif kind == "start":
            self.now = data["start"]
            self.total = data["instants"]
            if not self.tty:
                print(
                    f"demo: simulated week from {data['start']}, {data['events']} events",
                    flush=True,
                )
        elif kind == "event":
            self.done += 1
            self.now = data["at"]
            self.seen = data["seen"]
            for job in data["jobs"]:
                name, _, state = job.partition(": ")
                if state == "done" and name in self.counts:
                    self.counts[name] += 1
            what = ", ".join(data["events"])
            extra = "; ".join(data["actions"] + data["jobs"])
            flag = " PROBLEM: " + "; ".join(data["problems"]) if data["problems"] else ""
            line = f"{data['at']} {what}" + (f" -> {extra}" if extra else "") + flag
            self.recent.append(line)
            if not self.tty:
                print(line, flush=True)
        if self.live is not None:
            self.live.update(self._render())


clock_app = typer.Typer(
    help="The simulated clock of a development setup ([clock] file).", no_args_is_help=True
)


@clock_app.command("set")
def clock_set(
    at: Annotated[
        str, typer.Argument(help="Simulated time, ISO 8601 (Chicago time without offset).")
    ],
    speed: Annotated[
        float,
        typer.Option(
            "--speed", help="Simulated seconds per real second.", min=0.001, callback=check_speed
        ),
    ] = 1.0,
    paused: Annotated[bool, typer.Option("--paused", help="Stop the clock at that time.")] = False,
    json: JsonOpt = False,
) -> None:
    """Start (or move) the simulated clock named by [clock] file in the configuration."""
    from ncctl.clock import SharedClock
    from ncctl.errors import ConfigError
    from ncctl.schedule.timeparse import parse_instant

    output.begin("clock set", json)
    cfg = STATE.config().config
    if cfg.clock.file is None:
        raise ConfigError(
            "clock.file is not set: this configuration runs on the machine's clock",
            hint=f'add [clock] file = "{cfg.state_dir / "clock.json"}" to the configuration',
        )
    instant = parse_instant(at, STATE.engine().zone, "AT")
    SharedClock(cfg.clock.file, source="clock.file").set(instant, speed=speed, paused=paused)
    data = {
        "file": str(cfg.clock.file),
        "at": instant.isoformat(),
        "speed": speed,
        "paused": paused,
    }

    def draw(console: Console) -> None:
        from ncctl.cli.times import display_zone, local, print_zone

        zone = display_zone()
        print_zone(console, zone)
        state = "paused" if paused else f"running at x{speed:g}"
        console.print(f"simulated clock {cfg.clock.file}: {local(instant, zone)}, {state}")

    output.emit(data, draw)
