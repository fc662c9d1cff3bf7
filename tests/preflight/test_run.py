"""A check that raises fails alone: the others still run, and nothing escapes as a crash."""

from __future__ import annotations

import datetime as dt
import errno

from ncctl.appconfig.model import NcctlConfig
from ncctl.errors import UnavailableError
from ncctl.preflight.result import CheckResult, Context
from ncctl.preflight.run import failure, run_checks
from ncctl.schedule import load_engine
from ncctl.schedule.section import ScheduleConfig


def test_a_raising_check_fails_alone() -> None:
    sched = ScheduleConfig()
    engine = load_engine(sched.template_path(), sched.holiday_paths())
    config = NcctlConfig.model_validate({"environment": "prod"})
    now = dt.datetime(2026, 11, 22, 14, tzinfo=engine.zone)
    ctx = Context(config, engine, now, simulated=True)  # not live: nothing is recorded

    def unreadable(ctx: Context) -> CheckResult:
        raise PermissionError(errno.EACCES, "Permission denied", "/srv/archive")

    def unavailable(ctx: Context) -> CheckResult:
        raise UnavailableError("the thing is gone", hint="bring it back")

    def fine(ctx: Context) -> CheckResult:
        return CheckResult("fine", "ok", "all good")

    report = run_checks(ctx, [("a", unreadable), ("b", unavailable), ("c", fine)])
    assert [(c.name, c.status, c.detail, c.hint) for c in report.checks] == [
        ("a", "fail", "/srv/archive: Permission denied", "check that path and its permissions"),
        ("b", "fail", "the thing is gone", "bring it back"),
        ("fine", "ok", "all good", ""),
    ]
    assert report.recorded is False
    problem = failure(report)
    assert problem is not None and problem.exit_code == 1
    assert problem.message == (
        "preflight: 2 check(s) failed; a: /srv/archive: Permission denied (and 1 more)"
    )
