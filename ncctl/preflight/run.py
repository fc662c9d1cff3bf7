"""Run every preflight check and record the outcome (the runner's Sunday job runs them too:
:func:`ncctl.runner.job_actions.preflight_hook`).

The runner runs preflight once a week, ``PREFLIGHT_LEAD`` before the feed handler starts
(``feed_handler.on``, Sunday 15:00 CT): a failure fails the job instance, which the pass
retries with backoff and alerts on (``ncctl_job_overdue``) when its window closes at the
feed start; ``ncctl_preflight_check_ok`` alerts at once. It never stops the week: the feed
handler starts on schedule whatever preflight found.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from ncctl.errors import NcctlError, RefusedError
from ncctl.preflight import configured, holidays, host, ilink, space
from ncctl.preflight.result import CheckResult, Context, Report, read_record, record

if TYPE_CHECKING:
    import datetime as dt
    from pathlib import Path

Check = Callable[[Context], CheckResult | list[CheckResult]]

CHECKS: tuple[tuple[str, Check], ...] = (
    (ilink.SECRET, ilink.secret_expiry),
    (ilink.GATEWAY, ilink.gateway),
    ("destination", space.destinations),
    (space.LOCAL, space.local_space),
    (host.TUNING, host.tuning),
    (holidays.HOLIDAYS, holidays.coverage),
    (host.CLOCK_SYNC, host.clock_sync),
    (configured.CONFIG, configured.validate),
)
"""Every check, by the name its result has (``destination`` gives one per destination)."""


def _one(name: str, check: Check, ctx: Context) -> list[CheckResult]:
    """A check's results; an error it raises is its failure (the others still run)."""
    try:
        got = check(ctx)
    except NcctlError as err:
        return [CheckResult(name, "fail", err.message, err.hint)]
    except OSError as exc:  # a path the check reads (statvfs, a directory) cannot be read
        where = f"{exc.filename}: " if exc.filename else ""
        detail = f"{where}{exc.strerror or exc}"
        return [CheckResult(name, "fail", detail, "check that path and its permissions")]
    return got if isinstance(got, list) else [got]


def run_checks(ctx: Context, checks: Sequence[tuple[str, Check]] = CHECKS) -> Report:
    """Every check at ``ctx.now``; recorded for the metrics when ``ctx.live``."""
    report = Report(ctx.now)
    for name, check in checks:
        report.checks += _one(name, check, ctx)
    if ctx.live:
        record(report, ctx.config.state_dir)
    return report


def failure(report: Report) -> NcctlError | None:
    """The failure a report with failed checks is (exit 1), naming the first."""
    failed = report.failed
    if not failed:
        return None
    first = failed[0]
    more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
    return RefusedError(
        f"preflight: {len(failed)} check(s) failed; {first.name}: {first.detail}{more}",
        hint=first.hint or "see each check's hint in `ncctl preflight`",
        code="preflight.failed",
    )


def recorded_failure(state_dir: Path, since: dt.datetime) -> NcctlError | None:
    """The failure of the latest recorded run, if it was at or after ``since`` and a check
    failed (None otherwise)."""
    recorded = read_record(state_dir)
    if recorded is None or recorded.at < since.timestamp():
        return None
    failed = sorted(name for name, status in recorded.statuses.items() if status == "fail")
    if not failed:
        return None
    return RefusedError(
        f"preflight found {', '.join(failed)} failing before the week started",
        hint="fix it, then run `ncctl preflight`: the job is done once a run passes",
        code="preflight.failed",
    )
