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
    from ncctl.cli.views.tune import TuneHost, TunePlan, TuneRollback
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

        if uses_fake_root(cfg):
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
    checked = tuner.verify(chosen, window) if verify else tuner.plan(chosen, window)
    return TunePlan(checked, "verify" if verify else "plan", _zone(ctx, window), verify)


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
