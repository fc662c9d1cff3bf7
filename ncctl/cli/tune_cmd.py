"""``ncctl tune …``: plan, apply, verify and roll back a host tuning profile."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ncctl.cli import output
from ncctl.cli.context import STATE
from ncctl.cli.options import DryRunOpt, JsonOpt
from ncctl.cli.times import display_zone, local

if TYPE_CHECKING:
    from rich.console import Console

    from ncctl.errors import NcctlError
    from ncctl.tuning.plan import Plan
    from ncctl.tuning.profiles import Profile
    from ncctl.tuning.tuner import Tuner
    from ncctl.tuning.window import TradingWindow

app = typer.Typer(
    help="Host tuning: sysctl, huge pages, THP, governor, IRQ affinity and boot parameters "
    "from a profile; plan, apply, verify, roll back. Exit codes of verify and host: 0 "
    "compliant, 1 drift, 3 reboot pending, 4 something cannot be changed from here.",
    no_args_is_help=True,
)

RootOpt = Annotated[
    Path | None,
    typer.Option(
        "--root",
        help="Directory holding the /proc, /sys, /etc and /boot to tune; external commands "
        "run chrooted into it (default: tuning.root of the configuration).",
        metavar="DIR",
    ),
]
ProfileOpt = Annotated[
    str | None,
    typer.Option(
        "--profile",
        help="Tuning profile: a shipped name (base, latency, isolated-cores, dev) or a .toml "
        "path (default: tuning.profile of the configuration).",
        metavar="P",
    ),
]
ForceOpt = Annotated[
    bool,
    typer.Option(
        "--force",
        help="Make disruptive live changes inside trading hours; for rollback, also restore "
        "settings someone else changed since; act on a simulated clock of a non-development "
        "configuration (needs --reason).",
    ),
]
ReasonOpt = Annotated[
    str | None,
    typer.Option("--reason", help="Why, recorded in the journal.", metavar="TEXT"),
]

MOUNTS = Path("/proc/self/mounts")
"""This machine's mount table: the state directory (not the tuned root) must not be tmpfs."""

VERDICT_STYLE = {
    "ok": "green",
    "apply": "yellow",
    "reboot": "cyan",
    "host-only": "magenta",
    "unsupported": "red",
    "kernel-managed": "blue",
}


def _tuner(root: Path | None, profile: Profile | None = None) -> Tuner:
    """The tuner of ``--root``, else of tuning.root; a dev configuration's fake root is made
    (or completed for ``profile``) first, never ``/``."""
    from ncctl.tuning.host import Host
    from ncctl.tuning.tuner import Tuner

    cfg = STATE.config().config
    if root is None and profile is not None:
        from ncctl.tuning.fakeroot import prepare, uses_fake_root

        if uses_fake_root(cfg.environment, cfg.tuning):
            prepare(cfg.tuning.root, profile)
    host = Host(root if root is not None else cfg.tuning.root)
    return Tuner(host, cfg.state_dir, mounts=MOUNTS, now=STATE.now())


def _profile(name: str | None) -> Profile:
    from ncctl.tuning.profiles import load_profile

    return load_profile(name if name is not None else STATE.config().config.tuning.profile)


def _window() -> TradingWindow:
    from ncctl.tuning.window import trading_window

    return trading_window(STATE.engine(), STATE.now())


def _short(text: str | None, width: int = 40) -> str:
    """A value cut to ``width`` in the compact table; whole with ``-o wide``."""
    if text is None:
        return "-"
    return text if len(text) <= width or output.wide() else text[: width - 1] + "…"


def render_plan(data: dict[str, Any], title: str) -> output.Renderer:
    def draw(console: Console) -> None:
        from rich.table import Table

        profile = data["profile"]
        console.print(
            f"[bold]{title}[/bold] profile {profile['name']} ({' > '.join(profile['chain'])}) "
            f"on {data['root']}"
        )
        console.print(
            f"  context: {data['context']['description']}; boot loader: "
            f"{data['boot_backend'] or 'none found'}; CPUs housekeeping "
            f"{data['cpus']['housekeeping'] or '-'}, isolated {data['cpus']['isolated'] or '-'}"
        )
        table = Table(box=None, pad_edge=False)
        for col in ("setting", "scope", "current", "desired", "verdict", "reason"):
            table.add_column(col, overflow="fold")
        for row in data["settings"]:
            style = VERDICT_STYLE.get(row["verdict"], "")
            verdict = f"[{style}]{row['verdict']}[/{style}]"
            if row.get("disruptive"):
                verdict += " [bold](disruptive)[/bold]"
            table.add_row(
                row["label"],
                row["scope"],
                _short(row["current"], 28),
                _short(row["desired"], 28),
                verdict,
                row["reason"],
            )
        console.print(table)
        for f in data["files"]:
            if f["action"] != "unchanged":
                console.print(f"  file {f['path']}: {f['action']} ({f['purpose']})")
        if "jitter" in data:
            console.print(f"  {data['jitter']['summary']}", markup=False)
        counts = ", ".join(f"{n} {v}" for v, n in data["summary"].items() if n)
        console.print(f"{counts or 'no settings'}: [bold]{data['status']}[/bold]")
        trading = data["trading"]
        if trading["inside_trading_hours"]:
            until = ""
            if trading.get("next_outside"):
                zone = display_zone()
                until = f" until {local(trading['next_outside'], zone)} ({zone.key})"
            console.print(
                f"inside trading hours ({trading['reason']}){until}: disruptive changes need "
                "--force --reason",
                markup=False,
            )

    return draw


def compliance_failure(plan: Plan) -> NcctlError | None:
    """The failure a plan that is not compliant is (exit 1, 3 or 4), or None."""
    from ncctl.tuning.errors import compliance_error

    return compliance_error(plan)


@app.command("plan")
def plan(
    root: RootOpt = None,
    profile: ProfileOpt = None,
    json: JsonOpt = False,
) -> None:
    """Show every setting of the profile: current and desired value, a verdict (ok, apply,
    reboot, host-only, unsupported) and why. Reads only; exits 0 when it could plan."""
    output.begin("tune plan", json)
    chosen = _profile(profile)
    result = _tuner(root, chosen).plan(chosen, _window())
    data = result.as_dict()
    output.emit(data, render_plan(data, "plan"), warnings=result.warnings)


@app.command("host")
def host(
    *,
    root: RootOpt = None,
    profile: ProfileOpt = None,
    dry_run: DryRunOpt = False,
    force: ForceOpt = False,
    reason: ReasonOpt = None,
    json: JsonOpt = False,
) -> None:
    """Apply the profile: record each original value (fsynced) before its first write, write,
    persist in sysctl.d and tmpfiles.d, stage boot parameters, then verify. Huge page pool
    changes and IRQ moves are refused inside trading hours unless --force --reason."""
    output.begin("tune host", json)
    if not dry_run:
        STATE.changing("tune host", force, reason, tuning_root=root)
    chosen = _profile(profile)
    result = _tuner(root, chosen).apply(
        chosen, window=_window(), force=force, reason=reason, dry_run=dry_run
    )
    data = result.as_dict()
    final = result.final
    failure = None if result.dry_run else compliance_failure(final)

    def draw(console: Console) -> None:
        for change in result.changed:
            note = f" ({change['short']})" if change.get("short") else ""
            console.print(
                f"[green]set[/green] {change['id']}: {change['from']} -> {change['to']}{note}"
            )
        for f in result.files:
            console.print(f"[green]{f['action']}[/green] {f['path']}")
        if result.boot:
            console.print(f"boot: {result.boot['message']}")
        for fail in result.failed:
            console.print(f"[red]failed[/red] {fail['id']}: {fail['error']}")
        if result.overrides:
            console.print(f"[yellow]overrode the schedule:[/yellow] {result.overrides}")
        render_plan(final.as_dict(), "dry run" if result.dry_run else "verify")(console)

    output.emit(data, draw, warnings=final.warnings, failure=failure)
    if failure is not None:
        raise typer.Exit(failure.exit_code)


@app.command("verify")
def verify(
    root: RootOpt = None,
    profile: ProfileOpt = None,
    json: JsonOpt = False,
) -> None:
    """Check the host against the profile: exit 0 compliant, 1 drift (`tune host` would
    change something), 3 reboot pending, 4 something cannot be changed from here."""
    from ncctl.tuning.jitter_report import jitter_status

    output.begin("tune verify", json)
    chosen = _profile(profile)
    result = _tuner(root, chosen).verify(chosen, _window())
    data = result.as_dict()
    data["jitter"] = jitter_status(STATE.config().config.state_dir).as_dict()
    failure = compliance_failure(result)
    output.emit(data, render_plan(data, "verify"), warnings=result.warnings, failure=failure)
    if failure is not None:
        raise typer.Exit(failure.exit_code)


@app.command("rollback")
def rollback(
    root: RootOpt = None,
    dry_run: DryRunOpt = False,
    force: ForceOpt = False,
    reason: ReasonOpt = None,
    json: JsonOpt = False,
) -> None:
    """Restore, newest first, every value and file ncctl changed, from the rollback journal in
    the state directory. Settings someone else changed since are skipped with a warning
    (exit 1) unless --force; exit 3 when boot parameters wait for a reboot to go."""
    from ncctl.tuning.errors import rollback_error

    output.begin("tune rollback", json)
    if not dry_run:
        STATE.changing("tune rollback", force, reason, tuning_root=root)
    result = _tuner(root).rollback(window=_window(), force=force, reason=reason, dry_run=dry_run)
    data = result.as_dict()
    failure = rollback_error(result)

    def draw(console: Console) -> None:
        prefix = "would " if result.dry_run else ""
        for step in result.steps:
            if step.action == "restore":
                console.print(f"[green]{prefix}restore[/green] {step.entry.id}: {step.reason}")
            elif step.action == "skip":
                console.print(f"[yellow]skipped[/yellow] {step.entry.id}")
            else:
                console.print(f"[dim]{step.action}[/dim] {step.entry.id}: {step.reason}")
        for fail in result.failed:
            console.print(f"[red]failed[/red] {fail['id']}: {fail['error']}")
        if not result.steps:
            console.print("nothing to roll back")
        if result.reboot_required:
            console.print("boot parameters were removed from the boot loader: reboot to drop them")

    output.emit(data, draw, warnings=result.warnings, failure=failure)
    if failure is not None:
        raise typer.Exit(failure.exit_code)


# -- tune jitter --------------------------------------------------------------------------

from ncctl.cli.command import command  # noqa: E402  # kept with the command it registers

if TYPE_CHECKING:
    from ncctl.cli.context import CommandContext
    from ncctl.cli.views.jitter import JitterRun


@command(app, "jitter")
def jitter(
    ctx: CommandContext,
    *,
    cpus: Annotated[
        str | None,
        typer.Option(
            "--cpus",
            help="CPUs to measure, one pinned thread each (default: the housekeeping and "
            "isolated CPUs of the tuning profile).",
            metavar="LIST",
        ),
    ] = None,
    duration: Annotated[
        str,
        typer.Option(
            "--duration",
            help="How long: seconds (10, 10s) or minutes (2m), at most 30m.",
            metavar="TIME",
        ),
    ] = "10s",
    interval: Annotated[
        int,
        typer.Option("--interval", help="Wake-up interval of each thread, µs.", metavar="US"),
    ] = 1000,
    threshold: Annotated[
        int,
        typer.Option("--threshold", help="Count the samples above this latency, µs.", metavar="US"),
    ] = 20,
    profile: ProfileOpt = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Measure inside trading hours, or on a simulated clock of a non-development "
            "configuration (needs --reason).",
        ),
    ] = False,
    reason: ReasonOpt = None,
) -> JitterRun:
    """Measure how often and how long each CPU is interrupted: rt-tests' cyclictest, one
    thread pinned per CPU, for a bounded time; per CPU the samples, p50/p99/p99.9/max latency
    and the count above --threshold, housekeeping and isolated side by side. Keeps the report
    for `tune verify`. Refused inside trading hours unless --force --reason."""
    import os

    from ncctl.cli.views.jitter import JitterRun
    from ncctl.tuning import jitter as core
    from ncctl.tuning.cpus import cpu_plan
    from ncctl.tuning.host import Host
    from ncctl.tuning.jitter_report import HISTOGRAM_LIMIT_US, report_path

    seconds = core.parse_duration(duration)
    low, high = core.INTERVAL_RANGE_US
    core.check_range("--interval", interval, low, high, "µs")
    core.check_range("--threshold", threshold, 1, HISTOGRAM_LIMIT_US - 1, "µs")
    ctx.changing("tune jitter", force, reason)
    plan, warnings = cpu_plan(_profile(profile), Host(Path("/")))
    usable = frozenset(os.sched_getaffinity(0))
    chosen, more = core.choose_cpus(cpus, plan.housekeeping | plan.isolated, usable)
    main_cpus = sorted(plan.housekeeping & usable) or sorted(usable)
    request = core.Request(
        roles=core.roles_of(chosen, plan.housekeeping, plan.isolated),
        main_cpu=main_cpus[0],
        duration_s=seconds,
        interval_us=interval,
        threshold_us=threshold,
        privileged=core.privileged(),
    )
    state_dir = ctx.config().config.state_dir
    engine, now = ctx.engine(), ctx.now()
    report = core.measure(
        request,
        state_dir=state_dir,
        engine=engine,
        now=now,
        force=force,
        reason=reason,
    )
    feed = core.feed_note(engine, now)
    notes = [*warnings, *more, *([feed] if feed else [])]
    return JitterRun(report, report_path(state_dir), notes)
