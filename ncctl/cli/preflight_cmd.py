"""``ncctl preflight``: check, before the week starts, what the week will need."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ncctl.cli import output
from ncctl.cli.context import STATE
from ncctl.cli.options import JsonOpt

if TYPE_CHECKING:
    from rich.console import Console

STYLE = {"ok": "green", "warn": "yellow", "fail": "red", "skip": "dim"}


def preflight(json: JsonOpt = False) -> None:
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
    from ncctl.preflight.result import Context
    from ncctl.preflight.run import failure, run_checks

    output.begin("preflight", json)
    loaded = STATE.config()
    engine = STATE.engine()
    ctx = Context(loaded.config, engine, STATE.now(), STATE.simulated(), loaded.path)
    report = run_checks(ctx)
    data = report.as_dict()
    data["at"] = ctx.now.astimezone(engine.zone).isoformat(timespec="seconds")

    def draw(console: Console) -> None:
        from rich.markup import escape

        counts = report.counts()
        console.print(
            f"preflight at {data['at']}: "
            + ", ".join(f"{counts[s]} {s}" for s in ("ok", "warn", "fail", "skip"))
        )
        for check in report.checks:
            style = STYLE[check.status]
            console.print(
                f"[{style}]{check.status:<4}[/{style}] {escape(check.name)}: {escape(check.detail)}"
            )
            if check.hint and check.status != "ok":
                console.print(f"     hint: {escape(check.hint)}")

    output.emit(data, draw, failure=failure(report))
