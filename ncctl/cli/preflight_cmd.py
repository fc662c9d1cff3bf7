"""``ncctl preflight``: check, before the week starts, what the week will need."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ncctl.cli.command import command

if TYPE_CHECKING:
    from ncctl.cli.context import CommandContext
    from ncctl.cli.views.preflight import PreflightReport


@command(None, "preflight")
def preflight(ctx: CommandContext) -> PreflightReport:
    """Check what the week needs before it starts: the iLink secret's expiry and gateway,
    each upload destination (host key, a probe file, free space), local free space, host
    tuning, holiday-table coverage, clock synchronisation and `config validate`.

    One line per check: ok, warn, fail or skip (with the reason). Exit 1 when a check fails;
    warnings alone exit 0. Reads only, except a probe file written to and removed from each
    destination and the record the metrics read (state_dir/preflight.json). Under --clock on
    a configuration whose environment is not dev, nothing goes over the wire, no probe is
    written and nothing is recorded. The runner runs it every Sunday an hour before the feed
    handler starts.
    """
    from ncctl.cli.views.preflight import PreflightReport
    from ncctl.preflight.result import Context
    from ncctl.preflight.run import run_checks

    loaded = ctx.config()
    engine = ctx.engine()
    checks = Context(loaded.config, engine, ctx.now(), ctx.simulated(), loaded.path)
    report = run_checks(checks)
    return PreflightReport(report, checks.now.astimezone(engine.zone).isoformat(timespec="seconds"))
