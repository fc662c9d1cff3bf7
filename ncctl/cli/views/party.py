"""Views of ``ncctl party …``: registration, the gateway's list and the comparison."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ncctl.cli.render import view
from ncctl.ilink.party_lookup import ListResult, VerifyResult
from ncctl.ilink.registration import RegisterResult

if TYPE_CHECKING:
    from rich.console import Console

    from ncctl.cli.context import OutputOptions

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


def register_text(result: RegisterResult, console: Console, out: OutputOptions) -> None:
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


@view(RegisterResult, register_text)
def register_data(result: RegisterResult) -> dict[str, Any]:
    return result.as_dict()


def list_text(result: ListResult, console: Console, out: OutputOptions) -> None:
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


@view(ListResult, list_text)
def list_data(result: ListResult) -> dict[str, Any]:
    return result.as_dict()


def verify_text(result: VerifyResult, console: Console, out: OutputOptions) -> None:
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


@view(VerifyResult, verify_text)
def verify_data(result: VerifyResult) -> dict[str, Any]:
    return result.as_dict()
