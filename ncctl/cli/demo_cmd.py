"""``ncctl demo``: a whole simulated CME week on the dev configuration."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ncctl.cli.command import command

if TYPE_CHECKING:
    from ncctl.cli.context import CommandContext
    from ncctl.cli.views.demo import DemoWeek


@command(None, "demo")
def demo(
    ctx: CommandContext,
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
) -> DemoWeek:
    """Live a whole simulated CME week on the dev configuration in a few minutes.

    Sunday 14:55 CT to Friday 16:05 CT on a simulated clock shared with the simulators, in a
    fresh directory `demo` of the state directory (relative paths of the configuration are
    taken from there); exit 0 only if every scheduled action happened.
    """
    import datetime as dt

    from ncctl.appconfig.load import validate_document
    from ncctl.cli.views.demo import DemoWeek
    from ncctl.runner.demo import Demo
    from ncctl.schedule.timeparse import parse_date

    ctx.changing(
        simulated=True,
        hint="run the demo on a development configuration: the embedded one (no --config, "
        "no $NCCTL_CONFIG) or configs/dev.toml",
    )
    loaded = ctx.config()
    engine = ctx.engine()
    if week is not None:
        day = parse_date(week)
    else:
        today = dt.datetime.now(engine.zone).date()
        day = today + dt.timedelta(days=(6 - today.weekday()) % 7 or 7)
    sunday = engine.week_start(dt.datetime.combine(day, dt.time(12), tzinfo=engine.zone)).date()
    view = _DemoView(enabled=ctx.output.shows_text)
    workdir = loaded.config.state_dir.absolute() / "demo"
    runner = Demo(
        # relative paths of the configuration taken from the demo's own fresh directory
        validate_document(loaded.document, str(loaded.path), base=workdir),
        config_path=loaded.path,
        engine=engine,
        workdir=workdir,
        sunday=sunday,
        minutes=minutes,
        listener=view.on,
    )
    with view:
        result = runner.run()
    return DemoWeek(result, workdir, ctx.display_zone())


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
