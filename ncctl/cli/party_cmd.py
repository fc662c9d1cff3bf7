"""``ncctl party …``: register, list and verify iLink 3 party details (tag 1505 ids)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import typer

from ncctl.cli import output
from ncctl.cli.context import STATE
from ncctl.cli.options import DryRunOpt, JsonOpt, OverrideOpt, ReasonOpt

if TYPE_CHECKING:
    from rich.console import Console

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


DEFINITION_COLUMNS = (
    "PartyDetailsListReqID",
    "ExecutingFirm",
    "Account",
    "Operator",
    "CustOrderCapacity",
    "ClearingAccountType",
    "CustOrderHandlingInst",
    "SelfMatchPreventionID",
)
"""Headers of a party-details table by iLink 3 field name, not tag number: the id (1505), the
party roles, CustOrderCapacity (582), ClearingAccountType (1816), CustOrderHandlingInst (1031)
and the self-match prevention id (2362)."""


class _StateClock:
    """The command's clock (the machine's, or ``--clock``) as a :class:`ncctl.clock.Clock`."""

    def now(self) -> dt.datetime:
        return STATE.now()


def party_inputs() -> PartyInputs:
    """The ``[ilink]``, ``[[party_details]]``, state and audit settings of the configuration."""
    from ncctl.runner.registration import party_inputs as inputs_of

    return inputs_of(STATE.config().config)


def render_register(result: RegisterResult) -> output.Renderer:
    def draw(console: Console) -> None:
        from rich.table import Table

        if result.dry_run:
            console.print(
                f"dry run: would register {len(result.plan)} party-details entr"
                f"{'y' if len(result.plan) == 1 else 'ies'} with {result.gateway} "
                f"(session {result.session}, firm {result.firm}) for the week of "
                f"{result.week.isoformat()}; nothing sent"
            )
            table = Table(box=None, pad_edge=False)
            for col in DEFINITION_COLUMNS[:-1]:
                table.add_column(col)
            for item in result.plan:
                d = item["definition"]
                table.add_row(
                    str(d["id"]),
                    d.get("executing_firm", ""),
                    d.get("account") or "",
                    d.get("operator", ""),
                    str(d["customer_type_indicator"]),
                    str(d["clearing_account_type"]),
                    str(d["customer_order_handling"]),
                )
            console.print(table)
            return
        counts = result.counts()
        mark = "[green]ok[/green]" if result.ok else "[red]FAILED[/red]"
        console.print(
            f"{mark} party details for the week of {result.week.isoformat()} "
            f"(trade date {result.trade_date.isoformat()}) at {result.gateway}: "
            f"{counts['registered']} registered, {counts['already_registered']} already "
            f"registered, {counts['rejected']} rejected"
            + (f", {counts['not_sent']} not sent" if counts["not_sent"] else "")
            + (f" ({result.attempts} attempts)" if result.attempts > 1 else "")
        )
        table = Table(box=None, pad_edge=False)
        for col in ("PartyDetailsListReqID", "status", "detail"):
            table.add_column(col)
        for o in result.outcomes:
            style = {"registered": "green", "already_registered": "dim"}.get(o.status, "red")
            table.add_row(str(o.entry.id), f"[{style}]{o.status}[/{style}]", o.detail)
        console.print(table)
        if result.secret_expires_in_days is not None:
            console.print(f"secret key expires in {result.secret_expires_in_days} days")

    return draw


def render_list(result: ListResult) -> output.Renderer:
    def draw(console: Console) -> None:
        from rich.table import Table

        console.print(
            f"{len(result.definitions)} party-details definition"
            f"{'' if len(result.definitions) == 1 else 's'} at {result.gateway} "
            f"for firm {result.firm}"
        )
        if not result.definitions:
            return
        table = Table(box=None, pad_edge=False)
        for col in DEFINITION_COLUMNS:
            table.add_column(col)
        for definition in result.definitions:
            d = definition.as_dict()
            table.add_row(
                str(d["id"]),
                d.get("executing_firm", ""),
                d.get("account") or "",
                d.get("operator") or "",
                str(d["customer_type_indicator"]),
                str(d["clearing_account_type"]),
                str(d["customer_order_handling"]),
                str(d["smp_id"] or ""),
            )
        console.print(table)

    return draw


def render_verify(result: VerifyResult) -> output.Renderer:
    def draw(console: Console) -> None:
        if result.ok:
            console.print(
                f"[green]ok[/green] {result.gateway} holds all {len(result.matching)} "
                "configured party-details entries, unchanged, and nothing else"
            )
            return
        console.print(f"[red]DIFFERENT[/red] gateway {result.gateway} and the configuration:")
        for ident in result.missing:
            console.print(f"  {ident}: configured, not at the gateway")
        for ident, diffs in result.different.items():
            for diff in diffs:
                console.print(f"  {ident}: {diff}", markup=False)
        for ident in result.extra:
            console.print(f"  {ident}: at the gateway, not configured")

    return draw


@app.command(
    "register",
    help="Register every party_details entry of the configuration with the iLink gateway: one "
    "PartyDetailsDefinitionRequest (518) each, waiting for every acknowledgement (519), and "
    "record the week's result in the state database and the journal. Entries the gateway "
    "already holds unchanged are not sent again; lost connections are retried "
    "(ilink.registration_attempts). "
    + _EXIT_CODES.format(first="1 when an entry is rejected or the gateway rejects the Establish"),
)
def register(
    dry_run: DryRunOpt = False,
    force: OverrideOpt = False,
    reason: ReasonOpt = None,
    json: JsonOpt = False,
) -> None:
    from ncctl.ilink.registration import register_all

    output.begin("party register", json)
    if not dry_run:
        STATE.changing("party register", force, reason)
    inputs = party_inputs()
    trade_date = STATE.engine().trade_date(STATE.now())
    result = register_all(inputs, clock=_StateClock(), trade_date=trade_date, dry_run=dry_run)
    failure = result.failure
    output.emit(
        result.as_dict(), render_register(result), warnings=result.warnings, failure=failure
    )
    if failure is not None:
        raise typer.Exit(failure.exit_code)


@app.command(
    "list",
    help="Show the party-details definitions the iLink gateway holds for the firm "
    "(PartyDetailsListRequest 537, answered by PartyDetailsListReport 538s). "
    + _EXIT_CODES.format(first="1 when the gateway refuses the list or rejects the Establish"),
)
def list_(force: OverrideOpt = False, reason: ReasonOpt = None, json: JsonOpt = False) -> None:
    from ncctl.ilink.party_lookup import list_registrations

    output.begin("party list", json)
    STATE.changing("party list", force, reason)  # it talks to the gateway, writes the audit trail
    result = list_registrations(party_inputs(), clock=_StateClock())
    output.emit(result.as_dict(), render_list(result), warnings=result.warnings)


@app.command(
    "verify",
    help="Compare the party details the iLink gateway holds with the configuration's "
    "party_details entries: missing, different and extra ids. "
    + _EXIT_CODES.format(first="1 on any difference or when the gateway rejects the Establish"),
)
def verify(force: OverrideOpt = False, reason: ReasonOpt = None, json: JsonOpt = False) -> None:
    from ncctl.errors import EXIT_FAILED
    from ncctl.ilink.party_lookup import verify as verify_entries

    output.begin("party verify", json)
    STATE.changing("party verify", force, reason)  # the gateway, the audit trail
    result = verify_entries(party_inputs(), clock=_StateClock())
    failure = result.failure()
    output.emit(result.as_dict(), render_verify(result), warnings=result.warnings, failure=failure)
    if failure is not None:
        raise typer.Exit(EXIT_FAILED)
