"""``ncctl tune …``: plan, apply, verify and roll back a host tuning profile."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ncctl.cli.command import command
from ncctl.cli.options import DryRunOpt

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from ncctl.cli.context import CommandContext
    from ncctl.cli.views.jitter import JitterRun
    from ncctl.cli.views.tune import LatencyHeld, TuneHost, TunePlan, TuneRollback
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


def _tuner(ctx: CommandContext, root: Path | None, profile: Profile | None = None) -> Tuner:
    """The tuner of ``--root``, else of tuning.root; a dev configuration's fake root is made
    (or completed for ``profile``) first, never ``/``."""
    from ncctl.tuning.host import Host
    from ncctl.tuning.tuner import Tuner

    cfg = ctx.config().config
    if root is None and profile is not None:
        from ncctl.tuning.fakeroot import prepare, uses_fake_root

        if uses_fake_root(cfg.environment, cfg.tuning):
            prepare(cfg.tuning.root, profile)
    host = Host(root if root is not None else cfg.tuning.root)
    return Tuner(host, cfg.state_dir, mounts=MOUNTS, now=ctx.now())


def _profile(ctx: CommandContext, name: str | None) -> Profile:
    from ncctl.tuning.profiles import load_profile

    return load_profile(name if name is not None else ctx.config().config.tuning.profile)


def _window(ctx: CommandContext) -> TradingWindow:
    from ncctl.tuning.window import trading_window

    return trading_window(ctx.engine(), ctx.now())


def _zone(ctx: CommandContext, window: TradingWindow) -> ZoneInfo | None:
    """The zone the text shows the end of trading hours in (only when it says one)."""
    return ctx.display_zone() if window.inside and window.next_outside else None


@command(app, "plan")
def plan(ctx: CommandContext, root: RootOpt = None, profile: ProfileOpt = None) -> TunePlan:
    """Show every setting of the profile: current and desired value, a verdict (ok, apply,
    reboot, host-only, unsupported) and why. Reads only; exits 0 when it could plan."""
    return _planned(ctx, root, profile, verify=False)


def _planned(
    ctx: CommandContext, root: Path | None, profile: str | None, *, verify: bool
) -> TunePlan:
    """The plan of ``tune plan``, or the check of ``tune verify`` (compliance or failure)."""
    from ncctl.cli.views.tune import TunePlan

    chosen = _profile(ctx, profile)
    tuner = _tuner(ctx, root, chosen)
    window = _window(ctx)
    if not verify:
        return TunePlan(tuner.plan(chosen, window), "plan", _zone(ctx, window), False)
    from ncctl.tuning.jitter_report import jitter_status

    checked = tuner.verify(chosen, window)
    jitter = jitter_status(ctx.config().config.state_dir).as_dict()  # the last measurement
    return TunePlan(checked, "verify", _zone(ctx, window), True, jitter)


@command(app, "host")
def host(
    ctx: CommandContext,
    *,
    root: RootOpt = None,
    profile: ProfileOpt = None,
    dry_run: DryRunOpt = False,
    force: ForceOpt = False,
    reason: ReasonOpt = None,
) -> TuneHost:
    """Apply the profile: record each original value (fsynced) before its first write, write,
    persist in sysctl.d and tmpfiles.d, stage boot parameters, then verify. Huge page pool
    changes and IRQ moves are refused inside trading hours unless --force --reason."""
    from ncctl.cli.views.tune import TuneHost

    if not dry_run:
        ctx.changing(force, reason, tuning_root=root)
    chosen = _profile(ctx, profile)
    tuner = _tuner(ctx, root, chosen)
    window = _window(ctx)
    result = tuner.apply(chosen, window=window, force=force, reason=reason, dry_run=dry_run)
    return TuneHost(result, _zone(ctx, window))


@command(app, "reapply")
def reapply(
    ctx: CommandContext,
    *,
    root: RootOpt = None,
    profile: ProfileOpt = None,
    force: ForceOpt = False,
    reason: ReasonOpt = None,
) -> TuneHost:
    """Write again what a reboot loses of the applied profile: each IRQ's affinity (NIC
    queues included), governors, THP, workqueue masks, kernel threads on housekeeping CPUs.
    Journals no originals (rollback restores those `tune host` recorded); does nothing when
    no profile is applied. Run at boot by ncctl-tune-boot.service; exit codes as verify."""
    from ncctl.cli.views.tune import TuneHost

    ctx.changing(force, reason, tuning_root=root)
    chosen = _profile(ctx, profile)
    tuner = _tuner(ctx, root, chosen)
    window = _window(ctx)
    return TuneHost(tuner.reapply(chosen, window=window, force=force, reason=reason), None)


@command(app, "hold-latency")
def hold_latency(
    ctx: CommandContext, root: RootOpt = None, profile: ProfileOpt = None
) -> LatencyHeld:
    """Hold /dev/cpu_dma_latency at the profile's [pin] force_latency (µs) until SIGTERM:
    open it, write the value, keep it open (the kernel drops the request when it is closed).
    The command of ncctl-latency.service; exits 0 on SIGTERM or SIGINT."""
    from ncctl.errors import ConfigError
    from ncctl.tuning.host import Host
    from ncctl.tuning.latency import DEVICE, hold
    from ncctl.tuning.pinning import pin_options

    ctx.changing(tuning_root=root)  # a simulated clock never holds a real device
    chosen = _profile(ctx, profile)
    value = pin_options(chosen).force_latency
    if value is None:
        raise ConfigError(
            f"tuning profile {chosen.source}: no [pin] force_latency to hold",
            hint="set [pin] force_latency = MICROSECONDS in the profile, or do not run this",
            code="tune.no_force_latency",
        )
    import signal
    import sys

    from ncctl.cli.views.tune import LatencyHeld

    host = Host(root if root is not None else ctx.config().config.tuning.root)
    where = host.display(DEVICE)

    def ready() -> None:
        sys.stderr.write(f"ncctl: holding {where} at {value} µs until SIGTERM\n")
        sys.stderr.flush()

    stopped_by = hold(host, value, ready)
    return LatencyHeld(where, value, signal.Signals(stopped_by).name)


@command(app, "verify")
def verify(ctx: CommandContext, root: RootOpt = None, profile: ProfileOpt = None) -> TunePlan:
    """Check the host against the profile: exit 0 compliant, 1 drift (`tune host` would
    change something), 3 reboot pending, 4 something cannot be changed from here."""
    return _planned(ctx, root, profile, verify=True)


@command(app, "rollback")
def rollback(
    ctx: CommandContext,
    root: RootOpt = None,
    dry_run: DryRunOpt = False,
    force: ForceOpt = False,
    reason: ReasonOpt = None,
) -> TuneRollback:
    """Restore, newest first, every value and file ncctl changed, from the rollback journal in
    the state directory. Settings someone else changed since are skipped with a warning
    (exit 1) unless --force; exit 3 when boot parameters wait for a reboot to go."""
    from ncctl.cli.views.tune import TuneRollback
    from ncctl.tuning.errors import rollback_error

    if not dry_run:
        ctx.changing(force, reason, tuning_root=root)
    tuner = _tuner(ctx, root)
    window = _window(ctx)
    result = tuner.rollback(window=window, force=force, reason=reason, dry_run=dry_run)
    return TuneRollback(result, rollback_error(result))


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
    ctx.changing(force, reason)
    plan, warnings = cpu_plan(_profile(ctx, profile), Host(Path("/")))
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
