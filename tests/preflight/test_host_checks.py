"""Preflight's host and schedule checks through the CLI: tuning (a fake root), holiday-table
coverage (``--clock`` near the tables' end) and clock synchronisation (the tools on PATH)."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ncctl.appconfig.model import NcctlConfig
from ncctl.preflight.holidays import coverage
from ncctl.preflight.result import Context
from ncctl.schedule import ScheduleEngine, load_engine
from ncctl.schedule.section import ScheduleConfig
from tests.preflight.conftest import preflight, write_config
from tests.tuning import fakeroot


def test_drifted_tuning_fails_and_names_the_settings(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, listener: int
) -> None:
    root = fakeroot.build(tmp_path / "root")
    before = fakeroot.tree(root)
    config = write_config(
        tmp_path, gateway_port=listener, tuning_root=root, tuning_profile="latency"
    )
    run = preflight(capsys, config)
    check = run.checks["tuning"]
    assert check["status"] == "fail", check
    assert check["detail"].startswith("drift from profile latency: ")
    assert "ncctl tune host" in check["hint"]
    assert run.code == 1
    assert run.doc["error"]["message"].startswith("preflight: 1 check(s) failed; tuning: drift")
    assert fakeroot.tree(root) == before  # verify only reads


def test_missing_tuning_root_is_skipped_with_the_reason(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, listener: int
) -> None:
    run = preflight(capsys, write_config(tmp_path, gateway_port=listener))
    assert run.status("tuning") == "skip"
    assert "is not a directory" in run.checks["tuning"]["detail"]
    # a development configuration is never pointed at this machine's root
    assert "ncctl tune plan" in run.checks["tuning"]["hint"]
    assert "(/)" not in run.checks["tuning"]["hint"]
    assert run.code == 0, run.doc
    staging = write_config(tmp_path, gateway_port=listener, environment="staging")
    hint = preflight(capsys, staging).checks["tuning"]["hint"]
    assert "tuning.root to the host's root (/)" in hint


@pytest.mark.parametrize(
    ("clock", "status", "left"),
    [
        ("2027-10-01T12:00", "ok", 91),
        ("2027-11-15T12:00", "warn", 46),
        ("2027-12-24T12:00", "warn", 7),
    ],
)
def test_holiday_coverage_warns_60_days_before_the_tables_end(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    listener: int,
    clock: str,
    status: str,
    left: int,
) -> None:
    run = preflight(capsys, write_config(tmp_path, gateway_port=listener), clock)
    check = run.checks["holidays"]
    assert check["status"] == status
    assert check["detail"] == (
        f"the holiday tables cover through 2027-12-31 ({left} day(s) from now)"
    )
    assert run.code == 0  # a warning alone does not fail preflight
    if status == "warn":
        assert "schedule.holidays" in check["hint"]


def test_a_week_without_a_holiday_table_fails(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, listener: int
) -> None:
    run = preflight(capsys, write_config(tmp_path, gateway_port=listener), "2027-12-27T12:00")
    assert run.status("holidays") == "fail"
    assert "no holiday table covers 2028" in run.checks["holidays"]["detail"]
    assert run.code == 1


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    day=st.dates(dt.date(2026, 1, 1), dt.date(2027, 12, 24)),
    warn_days=st.integers(0, 800),
)
def test_holiday_status_follows_the_days_left(day: dt.date, warn_days: int) -> None:
    """For any day the tables cover a week ahead of, and any threshold: warn exactly when
    fewer than ``holiday_warn_days`` days are left to 2027-12-31, ok otherwise."""
    ctx = _context(day, warn_days)
    left = (dt.date(2027, 12, 31) - day).days
    got = coverage(ctx)
    assert got.status == ("warn" if left < warn_days else "ok")
    assert f"({left} day(s) from now)" in got.detail


def _context(day: dt.date, warn_days: int) -> Context:
    config = NcctlConfig.model_validate({"preflight": {"holiday_warn_days": warn_days}})
    engine = _engine()
    now = dt.datetime.combine(day, dt.time(12), tzinfo=engine.zone)
    return Context(config, engine, now)


@functools.cache
def _engine() -> ScheduleEngine:
    sched = ScheduleConfig()
    return load_engine(sched.template_path(), sched.holiday_paths())


NOT_SYNCED = "Reference ID    : 7F000001 ()\nLeap status     : Not synchronised"
SYNCED = "Leap status     : Normal\nSystem time     : 0.000012 seconds fast of NTP time"


@pytest.mark.parametrize(
    ("tools_given", "status", "detail"),
    [
        ({"timedatectl": "no"}, "fail", "timedatectl: the system clock is not synchronised"),
        ({"timedatectl": "yes"}, "ok", "timedatectl: the system clock is synchronised"),
        (
            {"timedatectl": None, "chronyc": NOT_SYNCED},
            "fail",
            "chronyc: the system clock is not synchronised",
        ),
        (
            {"timedatectl": None, "chronyc": SYNCED},
            "ok",
            "chronyc: synchronised (Normal); system time 0.000012 seconds fast of NTP time",
        ),
        (
            {"timedatectl": None, "chronyc": None},
            "skip",
            "cannot tell whether the clock is synchronised: timedatectl is not installed; "
            "chronyc is not installed",
        ),
    ],
)
def test_clock_synchronisation(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    listener: int,
    tools: Callable[..., Path],
    tools_given: dict[str, str | None],
    status: str,
    detail: str,
) -> None:
    tools(only=True, **tools_given)
    run = preflight(capsys, write_config(tmp_path, gateway_port=listener))
    check = run.checks["clock_sync"]
    assert (check["status"], check["detail"]) == (status, detail)
    assert run.code == (1 if status == "fail" else 0)
    if status != "ok":
        assert check["hint"]
