"""``ncctl party …``: register, list and verify iLink 3 party details (tag 1505 ids)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from ncctl.cli.command import command
from ncctl.cli.options import DryRunOpt, OverrideOpt, ReasonOpt

if TYPE_CHECKING:
    from ncctl.cli.context import CommandContext
    from ncctl.ilink.party_inputs import PartyInputs
    from ncctl.ilink.party_lookup import ListResult, VerifyResult
    from ncctl.ilink.registration import RegisterResult

#: The exit codes every party command shares, after its own first one (ncctl/errors.py).
_EXIT_CODES = (
    "Exit {first}, 69 when the gateway cannot be reached, 75 when it stops answering, drops "
    "the connection or terminates the session, 77 when it refuses the credentials, 78 when "
    "the configuration is incomplete."
)

app = typer.Typer(
    help="Register and check the iLink 3 party details (PartyDetailsListReqID, tag 1505) "
    "that orders refer to. Every message exchanged with the gateway is appended to the "
    "audit trail (logs.audit.path).",
    no_args_is_help=True,
)


def party_inputs(ctx: CommandContext) -> PartyInputs:
    """The ``[ilink]``, ``[[party_details]]``, state and audit settings of the configuration."""
    from ncctl.runner.registration import party_inputs as inputs_of

    return inputs_of(ctx.config().config)


@command(
    app,
    "register",
    help="Register every party_details entry of the configuration with the iLink gateway: one "
    "PartyDetailsDefinitionRequest (518) each, waiting for every acknowledgement (519), and "
    "record the week's result in the state database and the journal. Entries the gateway "
    "already holds unchanged are not sent again; lost connections are retried "
    "(ilink.registration_attempts). "
    + _EXIT_CODES.format(first="1 when an entry is rejected or the gateway rejects the Establish"),
)
def register(
    ctx: CommandContext,
    dry_run: DryRunOpt = False,
    force: OverrideOpt = False,
    reason: ReasonOpt = None,
) -> RegisterResult:
    import ncctl.cli.views.party  # noqa: F401  # the views of its results
    from ncctl.ilink.registration import register_all

    if not dry_run:
        ctx.changing(force, reason)
    inputs = party_inputs(ctx)
    trade_date = ctx.engine().trade_date(ctx.now())
    return register_all(inputs, clock=ctx.clock(), trade_date=trade_date, dry_run=dry_run)


@command(
    app,
    "list",
    help="Show the party-details definitions the iLink gateway holds for the firm "
    "(PartyDetailsListRequest 537, answered by PartyDetailsListReport 538s). "
    + _EXIT_CODES.format(first="1 when the gateway refuses the list or rejects the Establish"),
)
def list_(ctx: CommandContext, force: OverrideOpt = False, reason: ReasonOpt = None) -> ListResult:
    import ncctl.cli.views.party  # noqa: F401  # the views of its results
    from ncctl.ilink.party_lookup import list_registrations

    ctx.changing(force, reason)  # it talks to the gateway, writes the audit trail
    return list_registrations(party_inputs(ctx), clock=ctx.clock())


@command(
    app,
    "verify",
    help="Compare the party details the iLink gateway holds with the configuration's "
    "party_details entries: missing, different and extra ids. "
    + _EXIT_CODES.format(first="1 on any difference or when the gateway rejects the Establish"),
)
def verify(
    ctx: CommandContext, force: OverrideOpt = False, reason: ReasonOpt = None
) -> VerifyResult:
    import ncctl.cli.views.party  # noqa: F401  # the views of its results
    from ncctl.ilink.party_lookup import verify as verify_entries

    ctx.changing(force, reason)  # the gateway, the audit trail
    return verify_entries(party_inputs(ctx), clock=ctx.clock())
