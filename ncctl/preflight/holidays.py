"""Holiday-table coverage: the week ahead must be covered, and the tables should reach
``preflight.holiday_warn_days`` further (CME publishes next year's holidays in the autumn)."""

from __future__ import annotations

import datetime as dt

from ncctl.preflight.result import CheckResult, Context

HOLIDAYS = "holidays"
WEEK = dt.timedelta(days=7)


def coverage(ctx: Context) -> CheckResult:
    engine = ctx.engine
    today = ctx.now.astimezone(engine.zone).date()
    week_end = today + WEEK
    hint = (
        "add the next year's table (schedules/holidays/cme-YYYY.toml) to schedule.holidays, "
        "then run `ncctl schedule check`"
    )
    missing = engine.uncovered_years(range(today.year, week_end.year + 1))
    if missing:
        years = ", ".join(str(y) for y in missing)
        return CheckResult(
            HOLIDAYS,
            "fail",
            f"no holiday table covers {years}: this week runs on the weekly template alone "
            "(a holiday closure or early close would be missed)",
            hint,
        )
    last = today.year
    while engine.holidays.covers(last + 1):
        last += 1
    end = dt.date(last, 12, 31)
    left = (end - today).days
    detail = f"the holiday tables cover through {end.isoformat()} ({left} day(s) from now)"
    if left < ctx.config.preflight.holiday_warn_days:
        return CheckResult(HOLIDAYS, "warn", detail, hint)
    return CheckResult(HOLIDAYS, "ok", detail)
