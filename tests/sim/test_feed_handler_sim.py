"""The feed-handler simulator as a real child process: status file, transitions, SIGTERM."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ncctl.schedule import ScheduleEngine, load_engine
from ncctl.sim import feed_handler
from ncctl.sim_interface import SCHEDULE_FILES_ENV, schedule_files_value
from tests.helpers import wait_for
from tests.sim.conftest import REPO_ROOT, Children, stop

pytestmark = pytest.mark.slow

TEMPLATE = REPO_ROOT / "schedules" / "cme-globex.toml"
HOLIDAYS = [REPO_ROOT / "schedules" / "holidays" / f"cme-{y}.toml" for y in (2026, 2027)]
STATUS_KEYS = {"pid", "at", "market_state", "l3_loop", "feed_handler", "trade_date", "seq"}

Start = Callable[..., subprocess.Popen[bytes]]


@pytest.fixture(scope="module")
def engine() -> ScheduleEngine:
    return load_engine(TEMPLATE, HOLIDAYS)


SCHEDULE = ("--template", str(TEMPLATE), "--holidays", *map(str, HOLIDAYS))
"""The shipped schedule by absolute path (cwd-independent)."""


@pytest.fixture
def start(children: Children, tmp_path: Path) -> Start:
    """Start ``python -m ncctl.sim.feed_handler ARGS`` with its output in tmp_path/fh.out."""

    def _start(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        return children.start(
            "ncctl.sim.feed_handler", *args, out=tmp_path / "fh.out", cwd=tmp_path, env=env
        )

    return _start


def read_status(path: Path) -> dict[str, Any] | None:
    """The status document, or None while there is none (atomic writes: never partial)."""
    try:
        doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    return doc


@pytest.mark.parametrize(
    ("clock", "market_state", "l3_loop", "trade_date"),
    [
        # the evening before Thanksgiving: an early-close day's session still opens
        ("2026-11-25T17:30:00-06:00", "OPEN", "off", "2026-11-26"),
        # the daily halt: market CLOSED, the L3 snapshot loop runs
        ("2026-11-25T16:10:00-06:00", "CLOSED", "on", "2026-11-25"),
    ],
)
def test_status_file_matches_the_engine_at_the_clock_instant(
    start: Start,
    tmp_path: Path,
    engine: ScheduleEngine,
    clock: str,
    market_state: str,
    l3_loop: str,
    trade_date: str,
) -> None:
    status = tmp_path / "run" / "fh.status"
    child = start("--status-file", str(status), *SCHEDULE, "--clock", clock)
    doc = wait_for(lambda: read_status(status), 10, "the status file")

    assert set(doc) == STATUS_KEYS
    assert doc["pid"] == child.pid
    assert doc["feed_handler"] == "on"
    assert doc["seq"] >= 1
    at = dt.datetime.fromisoformat(doc["at"])
    begin = dt.datetime.fromisoformat(clock)
    assert begin <= at < begin + dt.timedelta(seconds=10)
    expected = engine.state_at(at)
    assert (doc["market_state"], doc["trade_date"]) == (
        expected.market_state,
        expected.trade_date.isoformat(),
    )
    assert (doc["market_state"], doc["l3_loop"], doc["trade_date"]) == (
        market_state,
        l3_loop,
        trade_date,
    )
    code, _ = stop(child)
    assert code == 0


def test_follows_a_transition_when_the_simulated_clock_crosses_it(
    start: Start, tmp_path: Path
) -> None:
    status = tmp_path / "fh.status"
    child = start(
        "--status-file",
        str(status),
        *SCHEDULE,
        "--clock",
        "2026-11-25T16:44:50-06:00",
        "--speed",
        "10",
        "--interval",
        "2",  # 20 s simulated: only the early wake-up can report 16:45:00
    )
    seen: list[tuple[str, str]] = []
    seqs: list[int] = []

    def pre_open() -> bool:
        doc = read_status(status)
        if doc is None:
            return False
        if not seen or seen[-1] != (doc["market_state"], doc["l3_loop"]):
            seen.append((doc["market_state"], doc["l3_loop"]))
        seqs.append(doc["seq"])
        return bool(doc["market_state"] == "PRE_OPEN")

    wait_for(pre_open, 10, "PRE_OPEN in the status file (16:45 simulated)")
    assert seen == [("CLOSED", "on"), ("PRE_OPEN", "off")]
    assert seqs == sorted(seqs)
    code, _ = stop(child)
    assert code == 0

    lines = (tmp_path / "fh.out").read_text().splitlines()
    changes = [line for line in lines if "market " in line and "l3_loop" in line]
    assert len(changes) == 2, lines
    assert "market CLOSED, l3_loop on at 2026-11-25T16:44:5" in changes[0]
    # the transition wakes the loop early: the change is logged within a tick of 16:45:00
    # simulated, not up to an interval (20 s simulated) later
    assert "market PRE_OPEN, l3_loop off at 2026-11-25T16:45:00." in changes[1]


def test_sigterm_stops_it_promptly_with_status_zero(start: Start, tmp_path: Path) -> None:
    status = tmp_path / "fh.status"
    child = start("--status-file", str(status), *SCHEDULE)  # interval 1 s
    wait_for(lambda: read_status(status), 10, "the status file")

    code, took = stop(child)

    assert code == 0
    assert took < 0.5, f"SIGTERM took {took:.3f} s to act on during a 1 s interval"
    assert status.exists(), "the status file is left in place"
    assert "stopping" in (tmp_path / "fh.out").read_text()


def test_an_invalid_template_exits_78_naming_the_file(start: Start, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('timezone = "Mars/Olympus"\n')
    child = start("--status-file", str(tmp_path / "fh.status"), "--template", str(bad))
    assert child.wait(timeout=10) == 78
    out = (tmp_path / "fh.out").read_text()
    assert str(bad) in out
    assert not (tmp_path / "fh.status").exists()


@pytest.mark.parametrize(
    ("listed", "named"),
    [
        (schedule_files_value(Path("/nonexistent/week.toml"), HOLIDAYS), "/nonexistent/week.toml"),
        ("/a.toml:/b.toml", f"${SCHEDULE_FILES_ENV} is not a JSON array of file names"),
    ],
    ids=["missing-template", "not-json"],
)
def test_the_schedule_files_variable_is_read_without_options(
    start: Start, tmp_path: Path, listed: str, named: str
) -> None:
    child = start("--status-file", str(tmp_path / "fh.status"), env={SCHEDULE_FILES_ENV: listed})
    assert child.wait(timeout=10) == 78
    assert named in (tmp_path / "fh.out").read_text()
    assert not (tmp_path / "fh.status").exists()


@pytest.mark.parametrize(
    ("args", "env", "source"),
    [
        (SCHEDULE, {SCHEDULE_FILES_ENV: "/nonexistent.toml"}, "2 holiday tables (options)"),
        (
            (),
            {SCHEDULE_FILES_ENV: schedule_files_value(TEMPLATE, HOLIDAYS)},
            f"2 holiday tables (${SCHEDULE_FILES_ENV})",
        ),
        ((), {SCHEDULE_FILES_ENV: ""}, "(shipped)"),
    ],
    ids=["options-over-variable", "variable", "shipped"],
)
def test_where_the_schedule_comes_from(
    start: Start, tmp_path: Path, args: tuple[str, ...], env: dict[str, str], source: str
) -> None:
    status = tmp_path / "fh.status"
    child = start("--status-file", str(status), *args, env=env)
    wait_for(lambda: read_status(status), 10, "the status file")
    code, _ = stop(child)
    assert code == 0
    first = (tmp_path / "fh.out").read_text().splitlines()[0]
    assert "starting: " in first and source in first, first


def test_speed_without_a_clock_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        feed_handler.parse_args(["--status-file", "x", "--speed", "10"])
    assert exc.value.code == 2
    assert "--speed needs --clock" in capsys.readouterr().err


def test_a_clock_without_utc_offset_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        feed_handler.parse_args(["--status-file", "x", "--clock", "2026-11-25T17:30"])
    assert exc.value.code == 2
    assert "no UTC offset" in capsys.readouterr().err
