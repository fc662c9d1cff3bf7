"""Views of ``ncctl tune …``: the plan of a profile, what applying or rolling back did."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ncctl.cli.render import view

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from rich.console import Console

    from ncctl.cli.context import OutputOptions
    from ncctl.errors import NcctlError
    from ncctl.tuning.apply import ApplyResult
    from ncctl.tuning.plan import Plan
    from ncctl.tuning.rollback import RollbackResult

VERDICT_STYLE = {
    "ok": "green",
    "apply": "yellow",
    "reboot": "cyan",
    "host-only": "magenta",
    "unsupported": "red",
    "kernel-managed": "blue",
}


def _short(text: str | None, width: int, wide: bool) -> str:
    """A value cut to ``width`` in the compact table; whole with ``-o wide``."""
    if text is None:
        return "-"
    return text if len(text) <= width or wide else text[: width - 1] + "…"


def plan_text(
    data: dict[str, Any], title: str, zone: ZoneInfo | None, console: Console, out: OutputOptions
) -> None:
    """A plan (``Plan.as_dict``) under ``title``; ``zone``: of the end of trading hours."""
    from rich.table import Table

    from ncctl.cli.times import local

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
            _short(row["current"], 28, out.wide),
            _short(row["desired"], 28, out.wide),
            verdict,
            row["reason"],
        )
    console.print(table)
    for f in data["files"]:
        if f["action"] != "unchanged":
            console.print(f"  file {f['path']}: {f['action']} ({f['purpose']})")
    held = data.get("force_latency")
    if held:
        style = VERDICT_STYLE.get(held["verdict"], "yellow")
        console.print(
            f"  force_latency {held['device']}: [{style}]{held['verdict']}[/{style}] "
            f"({held['reason']})"
        )
    if "jitter" in data:
        console.print(f"  {data['jitter']['summary']}", markup=False)
    counts = ", ".join(f"{n} {v}" for v, n in data["summary"].items() if n)
    console.print(f"{counts or 'no settings'}: [bold]{data['status']}[/bold]")
    trading = data["trading"]
    if trading["inside_trading_hours"]:
        until = ""
        if trading.get("next_outside") and zone is not None:
            until = f" until {local(trading['next_outside'], zone)} ({zone.key})"
        console.print(
            f"inside trading hours ({trading['reason']}){until}: disruptive changes need "
            "--force --reason",
            markup=False,
        )


@dataclass(frozen=True)
class TunePlan:
    """``tune plan`` (reads only) or ``tune verify`` (``compliance``: not compliant fails)."""

    plan: Plan
    title: str
    zone: ZoneInfo | None
    compliance: bool
    jitter: dict[str, Any] | None = None
    """The last jitter measurement (``tune verify``: ``jitter_status``)."""

    @property
    def warnings(self) -> list[str]:
        return self.plan.warnings

    def failure(self) -> NcctlError | None:
        from ncctl.tuning.errors import compliance_error

        return compliance_error(self.plan) if self.compliance else None


def tune_plan_text(result: TunePlan, console: Console, out: OutputOptions) -> None:
    plan_text(tune_plan_data(result), result.title, result.zone, console, out)


@view(TunePlan, tune_plan_text)
def tune_plan_data(result: TunePlan) -> dict[str, Any]:
    data = result.plan.as_dict()
    return data if result.jitter is None else {**data, "jitter": result.jitter}


@dataclass(frozen=True)
class TuneHost:
    """What ``tune host`` changed (or would, ``--dry-run``), then the host verified."""

    result: ApplyResult
    zone: ZoneInfo | None

    @property
    def warnings(self) -> list[str]:
        return self.result.final.warnings

    def failure(self) -> NcctlError | None:
        from ncctl.tuning.errors import compliance_error

        if self.result.dry_run or not getattr(self.result, "active", True):
            return None  # a dry run, or a re-apply with no profile applied: nothing to check
        return compliance_error(self.result.final)


def host_text(shown: TuneHost, console: Console, out: OutputOptions) -> None:
    result = shown.result
    for change in result.changed:
        note = f" ({change['short']})" if change.get("short") else ""
        console.print(
            f"[green]set[/green] {change['id']}: {change['from']} -> {change['to']}{note}"
        )
    for f in result.files:
        console.print(f"[green]{f['action']}[/green] {f['path']}")
    if not getattr(result, "active", True):
        console.print("no profile applied (the rollback journal is empty): nothing re-applied")
    moved = result.kthreads.get("moved", [])
    if moved:
        console.print(f"moved {len(moved)} kernel threads to CPUs {moved[0]['to']}")
    for fail in result.kthreads.get("failed", []):
        console.print(
            f"[red]failed[/red] kernel thread {fail['pid']} ({fail['comm']}): {fail['error']}"
        )
    if result.boot:
        console.print(f"boot: {result.boot['message']}")
    for fail in result.failed:
        console.print(f"[red]failed[/red] {fail['id']}: {fail['error']}")
    if result.overrides:
        console.print(f"[yellow]overrode the schedule:[/yellow] {result.overrides}")
    title = "dry run" if result.dry_run else "verify"
    plan_text(result.final.as_dict(), title, shown.zone, console, out)


@view(TuneHost, host_text)
def host_data(shown: TuneHost) -> dict[str, Any]:
    return shown.result.as_dict()


@dataclass(frozen=True)
class TuneRollback:
    """What ``tune rollback`` restored (or would, ``--dry-run``)."""

    result: RollbackResult
    error: NcctlError | None
    """Settings skipped or failed (exit 1), boot parameters waiting for a reboot (3)."""

    def failure(self) -> NcctlError | None:
        return self.error

    @property
    def warnings(self) -> list[str]:
        return self.result.warnings


def rollback_text(shown: TuneRollback, console: Console, out: OutputOptions) -> None:
    result = shown.result
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
    for unit in result.restarted:
        console.print(f"restarted {unit} (it reads its restored configuration)")
    if not result.steps:
        console.print("nothing to roll back")
    if result.reboot_required:
        console.print("boot parameters were removed from the boot loader: reboot to drop them")


@view(TuneRollback, rollback_text)
def rollback_data(shown: TuneRollback) -> dict[str, Any]:
    return shown.result.as_dict()


@dataclass(frozen=True)
class LatencyHeld:
    """``tune hold-latency`` ended: the device it held, the value, the signal that ended it."""

    device: str
    value_us: int
    signal: str


def held_text(shown: LatencyHeld, console: Console, out: OutputOptions) -> None:
    console.print(f"released {shown.device} (held at {shown.value_us} µs) on {shown.signal}")


@view(LatencyHeld, held_text)
def held_data(shown: LatencyHeld) -> dict[str, Any]:
    return {"device": shown.device, "value_us": shown.value_us, "signal": shown.signal}
