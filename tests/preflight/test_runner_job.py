"""The runner's Sunday preflight: due an hour before the feed handler starts, its failure
fails the job (retried, alerted when the window closes) and is recorded for the metrics; a
pass that catches up after the week started does not run it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ncctl.appconfig.load import load_file
from ncctl.runner.reconcile import PassReport, reconciler_for
from ncctl.schedule import load_engine
from tests.helpers import run_in_process
from tests.preflight.conftest import write_config

CHICAGO = ZoneInfo("America/Chicago")
PREFLIGHT_AT = "2026-11-22T14:00:00-06:00"


def pass_at(config: Path, at: dt.datetime, *, preflight: bool = True) -> PassReport:
    """The jobs of a reconcile pass at ``at`` (no component is started), built as the daemon
    and ``maintenance run`` build it; a failed job may be retried by the very next pass (no
    backoff: the jitter cancels it)."""
    cfg, _ = load_file(config)
    engine = load_engine(cfg.schedule.template_path(), cfg.schedule.holiday_paths())
    rec = reconciler_for(cfg, engine, at, config_path=config, preflight=preflight, simulated=True)
    rec.jitter = lambda: -0.5
    report = PassReport(at=at.isoformat())
    rec.run_jobs(report)
    return report


def jobs_of(config: Path, at: dt.datetime, *, preflight: bool = True) -> list[dict[str, object]]:
    return [j for j in pass_at(config, at, preflight=preflight).jobs if j["job"] == "preflight"]


def test_a_pass_without_preflight_marks_it_done_without_checking(
    tmp_path: Path, listener: int
) -> None:
    config = write_config(tmp_path, gateway_port=listener)
    (job,) = jobs_of(config, dt.datetime(2026, 11, 22, 14, 5, tzinfo=CHICAGO), preflight=False)
    assert (job["instance"], job["state"]) == (PREFLIGHT_AT, "done")
    assert job["result"] == {"note": "preflight is not run by this pass"}
    assert not (tmp_path / "state" / "preflight.json").exists()


def test_due_at_14_00_on_sunday_and_recorded(tmp_path: Path, listener: int) -> None:
    config = write_config(tmp_path, gateway_port=listener)
    # at 13:59 the latest instance is last week's, long past: marked done, not run
    (last_week,) = jobs_of(config, dt.datetime(2026, 11, 22, 13, 59, tzinfo=CHICAGO))
    assert last_week["instance"] == "2026-11-15T14:00:00-06:00"
    assert "note" in last_week["result"]  # type: ignore[operator]
    assert not (tmp_path / "state" / "preflight.json").exists()
    (job,) = jobs_of(config, dt.datetime(2026, 11, 22, 14, 5, tzinfo=CHICAGO))
    assert (job["instance"], job["state"]) == (PREFLIGHT_AT, "done")
    result = job["result"]
    assert isinstance(result, dict) and result["counts"]["fail"] == 0
    assert (tmp_path / "state" / "preflight.json").exists()
    # done once: the next pass of the hour does not run it again
    assert jobs_of(config, dt.datetime(2026, 11, 22, 14, 6, tzinfo=CHICAGO)) == []


def test_a_failed_check_fails_the_job_and_shows_in_the_metrics(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, listener: int
) -> None:
    outbox = tmp_path / "outbox"
    extra = f'\n[destinations.fcm]\nurl = "file://{outbox}"\n'
    config = write_config(tmp_path, gateway_port=listener, extra=extra)
    (job,) = jobs_of(config, dt.datetime(2026, 11, 22, 14, 5, tzinfo=CHICAGO))
    assert (job["state"], job["code"]) == ("failed", "preflight.failed")
    assert "destination.fcm" in str(job["message"])

    def ok_values() -> dict[str, float]:
        got = run_in_process(
            capsys, "--config", config, "--clock", "2026-11-22T14:10", "metrics", "--json"
        )
        samples = got.data()["samples"]
        return {
            s["labels"]["check"]: s["value"]
            for s in samples
            if s["name"] == "ncctl_preflight_check_ok"
        }

    values = ok_values()
    assert values["destination.fcm"] == 0.0
    assert values["holidays"] == 1.0
    outbox.mkdir(mode=0o750)  # fixed: run it by hand, and the metric follows
    fixed = run_in_process(capsys, "--config", config, "--clock", "2026-11-22T14:20", "preflight")
    assert fixed.code == 0, fixed
    assert set(ok_values().values()) == {1.0}


def test_a_pass_after_the_week_started_does_not_run_it(tmp_path: Path, listener: int) -> None:
    outbox = tmp_path / "missing"
    extra = f'\n[destinations.fcm]\nurl = "file://{outbox}"\n'
    config = write_config(tmp_path, gateway_port=listener, extra=extra)
    (job,) = jobs_of(config, dt.datetime(2026, 11, 22, 15, 10, tzinfo=CHICAGO))
    assert (job["instance"], job["state"]) == (PREFLIGHT_AT, "done")
    assert job["result"] == {"note": "the week had started: run `ncctl preflight` to check it now"}
    assert not (tmp_path / "state" / "preflight.json").exists()


def test_a_failure_outlives_the_feed_start_until_a_run_passes(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, listener: int
) -> None:
    """After 15:00 the checks are not run again: the failed instance stays failed (and is
    alerted once, its window closed) until ``ncctl preflight`` by hand passes."""
    outbox = tmp_path / "outbox"
    extra = f'\n[destinations.fcm]\nurl = "file://{outbox}"\n'
    config = write_config(tmp_path, gateway_port=listener, extra=extra)
    (first,) = jobs_of(config, dt.datetime(2026, 11, 22, 14, 5, tzinfo=CHICAGO))
    assert first["state"] == "failed"
    late = pass_at(config, dt.datetime(2026, 11, 22, 15, 10, tzinfo=CHICAGO))
    (job,) = [j for j in late.jobs if j["job"] == "preflight"]
    assert (job["state"], job["code"]) == ("failed", "preflight.failed")
    assert job["message"] == "preflight found destination.fcm failing before the week started"
    assert [(a["job"], a["instance"]) for a in late.alerts] == [("preflight", PREFLIGHT_AT)]
    outbox.mkdir(mode=0o750)
    fixed = run_in_process(capsys, "--config", config, "--clock", "2026-11-22T15:20", "preflight")
    assert fixed.code == 0, fixed
    after = pass_at(config, dt.datetime(2026, 11, 22, 15, 30, tzinfo=CHICAGO))
    (done,) = [j for j in after.jobs if j["job"] == "preflight"]
    assert done["state"] == "done"
    assert after.alerts == []  # alerted once only
