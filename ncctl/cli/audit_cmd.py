"""``ncctl audit …``: read and verify the journal of state-changing actions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from ncctl.cli.command import command

if TYPE_CHECKING:
    from ncctl.cli.context import CommandContext
    from ncctl.cli.views.audit import AuditLog, AuditVerify

app = typer.Typer(
    help="The journal: every state-changing action, hash-chained.", no_args_is_help=True
)


@command(app, "log")
def log(
    ctx: CommandContext,
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            help="Only actions at or after this time, ISO 8601; without an offset it is in "
            "the display zone (--tz, else schedule.display_tz).",
            metavar="TIME",
        ),
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", "-n", help="At most this many, the latest.", min=1)
    ] = 50,
) -> AuditLog:
    """List journaled actions, oldest first."""
    from ncctl.cli.views.audit import AuditLog
    from ncctl.journal import Journal, journal_path
    from ncctl.schedule.timeparse import parse_instant

    cfg = ctx.config().config
    zone = ctx.display_zone()
    since_ns = None
    since_at = None
    if since is not None:
        since_at = parse_instant(since, zone, "--since")
        since_ns = int(since_at.timestamp() * 1e9)
    path = journal_path(cfg.state_dir)
    entries = [
        e.record for e in Journal(path).entries() if since_ns is None or e.ts_ns >= since_ns
    ][-limit:]
    return AuditLog(path, since_at, zone, entries)


@command(app, "verify")
def verify(ctx: CommandContext) -> AuditVerify:
    """Check the hash chain and the head anchored outside the journal (state DB, exported
    heads); exit 1 naming the first broken line and the anchor that caught it."""
    from ncctl.cli.views.audit import AuditVerify
    from ncctl.journal import journal_path
    from ncctl.journal import verify as verify_chain
    from ncctl.logs.journal_export import exported_heads

    cfg = ctx.config().config
    path = journal_path(cfg.state_dir)
    heads, notes = exported_heads(cfg.logs, cfg.destinations, cfg.state_dir)
    return AuditVerify(path, verify_chain(path, heads), notes)
