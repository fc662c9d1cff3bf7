"""Text views for people: times in one named zone (--tz), holidays by name, failure reasons,
human sizes, party tables by field name; whole lines in a pipe."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ncctl.cli.humanize import UNITS, human_size
from ncctl.cli.main import main
from tests.cli.conftest import Runner, snapshot
from tests.cli.test_lifecycle_cmd import config as lifecycle_config  # noqa: F401 (a fixture)
from tests.helpers import run_process
from tests.logs.helpers import TRADE_DATE, run, write_config

WEEKEND = ("--clock", "2026-11-28T12:00")
ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d")
ZONES = ("UTC", "Asia/Tokyo", "Asia/Kolkata", "America/New_York", "America/Chicago")


def _times(text: str) -> list[dt.datetime]:
    return [dt.datetime.fromisoformat(m) for m in ISO.findall(text)]


def _offsets_are_of(times: list[dt.datetime], zone: str) -> bool:
    tz = ZoneInfo(zone)
    return all(t.utcoffset() == t.astimezone(tz).utcoffset() for t in times)


# -- --tz ----------------------------------------------------------------------------------


@pytest.mark.parametrize("zone", ZONES)
def test_status_shows_every_time_in_the_zone_and_names_it(
    ncctl: Runner, dev_copy: Path, zone: str
) -> None:
    base = ncctl("--config", dev_copy, *WEEKEND, "status", "--week", "--tz", "UTC")
    shifted = ncctl("--config", dev_copy, *WEEKEND, "status", "--week", "--tz", zone)
    assert base.code == shifted.code == 0, shifted.err
    assert shifted.out.splitlines()[0] == f"times in {zone}"
    times = _times(shifted.out)
    assert len(times) == len(_times(base.out)) >= 6  # the state and the five next events
    assert times == _times(base.out)  # the same instants ...
    assert _offsets_are_of(times, zone)  # ... each shown with the zone's offset
    assert f"time ({zone})" in shifted.out  # the week's table names it too
    assert times[0] == dt.datetime(2026, 11, 28, 18, 0, tzinfo=dt.UTC)


def test_status_default_zone_is_the_display_zone(ncctl: Runner, dev_copy: Path) -> None:
    out = ncctl("--config", dev_copy, *WEEKEND, "status").out
    assert out.splitlines()[0] == "times in America/Chicago"
    assert "2026-11-28T12:00:00-06:00" in out
    assert "+00:00" not in out


@pytest.fixture
def journaled(ncctl: Runner, dev_copy: Path) -> dt.datetime:
    """A journal with one entry (a no-op `feed stop`): the time it was written."""
    assert ncctl("--config", dev_copy, *WEEKEND, "feed", "stop").code == 0
    [entry] = ncctl("--config", dev_copy, "audit", "log", "--json").data()["entries"]
    return dt.datetime.fromisoformat(entry["time"].replace("Z", "+00:00")[:26] + "+00:00")


@pytest.mark.parametrize("zone", ZONES)
def test_audit_log_shows_times_in_the_zone(
    ncctl: Runner, dev_copy: Path, journaled: dt.datetime, zone: str
) -> None:
    result = ncctl("--config", dev_copy, "audit", "log", "--tz", zone)
    assert result.code == 0
    lines = result.out.splitlines()
    assert lines[0] == f"times in {zone}"
    [shown] = _times(result.out)
    assert shown == journaled.replace(microsecond=0)
    assert _offsets_are_of([shown], zone)
    assert next(line for line in lines if "feed stop" in line).startswith(shown.isoformat())


@pytest.mark.parametrize(
    ("zone", "listed"),
    [("UTC", False), ("America/Chicago", False), ("Asia/Tokyo", True), ("Asia/Kolkata", True)],
)
def test_audit_log_since_is_read_in_the_display_zone(
    ncctl: Runner, dev_copy: Path, journaled: dt.datetime, zone: str, listed: bool
) -> None:
    # one minute after the entry, as UTC wall-clock time: later than it in UTC and Chicago,
    # hours earlier in Tokyo and Kolkata
    wall = (journaled + dt.timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S")
    data = ncctl("--config", dev_copy, "audit", "log", "--since", wall, "--tz", zone, "--json")
    since = dt.datetime.fromisoformat(data.data()["since"])
    assert since == dt.datetime.fromisoformat(wall).replace(tzinfo=ZoneInfo(zone))
    assert len(data.data()["entries"]) == (1 if listed else 0)
    text = ncctl("--config", dev_copy, "audit", "log", "--since", wall, "--tz", zone)
    assert f"since {since.isoformat()}" in text.out  # the view says how --since was read


# -- schedule show -------------------------------------------------------------------------


def test_christmas_week_names_the_holidays_and_lists_friday_closed(ncctl: Runner) -> None:
    result = ncctl("schedule", "show", "--week", "2026-12-24")
    assert result.code == 0
    lines = result.out.splitlines()
    assert lines[0] == "times in America/Chicago"
    [friday] = [line for line in lines if line.startswith("Fri 2026-12-25")]
    assert "closed" in friday and "Christmas Day" in friday
    [thursday] = [line for line in lines if line.startswith("Thu 2026-12-24")]
    assert "early close 12:15" in thursday and "Christmas Eve" in thursday
    [saturday] = [line for line in lines if line.startswith("Sat 2026-12-26")]
    assert "closed" in saturday
    days = [line[:14] for line in lines if re.match(r"\w{3} 2026-12-\d\d", line)]
    assert days == [f"{d:%a %Y-%m-%d}" for d in (dt.date(2026, 12, 20 + i) for i in range(7))]


def test_christmas_week_days_in_json(ncctl: Runner) -> None:
    days = {
        d["date"]: d
        for d in ncctl("schedule", "show", "--week", "2026-12-24", "--json").data()["days"]
    }
    assert len(days) == 7
    friday = days["2026-12-25"]
    assert friday["closed"] is True and friday["trade_date"] is None
    assert friday["holiday"]["name"] == "Christmas Day" and friday["holiday"]["kind"] == "closed"
    thursday = days["2026-12-24"]
    assert thursday["closed"] is False and thursday["trade_date"] == "2026-12-24"
    assert thursday["holiday"]["kind"] == "early_close" and thursday["holiday"]["close"] == "12:15"
    assert [d for d, v in days.items() if v["closed"]] == ["2026-12-25", "2026-12-26"]


def test_every_event_row_carries_its_trade_date(ncctl: Runner) -> None:
    result = ncctl("schedule", "show", "--week", "2026-11-22")
    rows = [
        line.split() for line in result.out.splitlines() if re.search(r"\d\d:\d\d C[SD]T", line)
    ]
    events = ncctl("schedule", "show", "--week", "2026-11-22", "--json").data()["events"]
    assert len(rows) == len(events)
    for row, event in zip(rows, events, strict=True):
        at = dt.datetime.fromisoformat(event["at"])
        trade = at.date() + dt.timedelta(days=1) if at.hour >= 17 else at.date()
        if trade.weekday() == 6:  # Sunday evening belongs to Monday
            trade += dt.timedelta(days=1)
        elif trade.weekday() == 5:
            trade += dt.timedelta(days=2)
        assert trade.isoformat() in row, (row, event)
        assert row[-1] == event["event"]


# -- logs status ---------------------------------------------------------------------------


@pytest.fixture
def failed_upload(tmp_path: Path) -> tuple[Path, Path]:
    """A rotated archive under a long path whose upload to fcm failed (a conflicting file is
    already there), and the config."""
    root = tmp_path / ("a-long-directory-name-" * 4) / ("and-another-one-" * 4)
    root.mkdir(parents=True)
    config = write_config(root)
    # random rows: the archive stays above a KiB once compressed
    rows = (f"{os.urandom(16).hex()},row\n" for _ in range(400))
    (root / "live" / "audit.csv").write_text("".join(rows))
    assert run(config, "logs", "rotate")[0] == 0
    other = root / "outbox" / "fcm" / f"audit.{TRADE_DATE}.csv.gz"
    other.parent.mkdir(parents=True)
    other.write_bytes(b"somebody else's file")
    assert run(config, "logs", "upload")[0] == 1
    return root, config


def _piped(config: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    outcome = run_process(
        "--config", config, "--clock", "2026-11-25T16:05", *args, cwd=cwd, columns="40"
    )
    return subprocess.CompletedProcess(outcome.argv, outcome.code, outcome.out, outcome.err)


@pytest.mark.slow
def test_logs_status_shows_the_failure_reason_in_a_pipe(
    failed_upload: tuple[Path, Path], isolated_cwd: Path
) -> None:
    _, config = failed_upload
    code, doc, _ = run(config, "logs", "status")
    [entry] = doc["data"]["files"]
    reason = entry["destinations"]["fcm"]["last_error"]
    assert reason
    text = _piped(config, "logs", "status", cwd=isolated_cwd)
    assert text.returncode == code
    assert "…" not in text.stdout
    failures = [line for line in text.stdout.splitlines() if reason in line]
    assert len(failures) == 1, text.stdout
    assert entry["file"] in failures[0] and "fcm" in failures[0]
    assert not any(line != line.rstrip() for line in text.stdout.splitlines())


@pytest.mark.slow
def test_logs_status_sizes_for_people_bytes_in_json(
    failed_upload: tuple[Path, Path], isolated_cwd: Path
) -> None:
    _, config = failed_upload
    _, doc, _ = run(config, "logs", "status")
    size = doc["data"]["files"][0]["size"]
    assert isinstance(size, int) and size > 0
    table = _piped(config, "logs", "status", cwd=isolated_cwd).stdout
    [row] = [line for line in table.splitlines() if line.startswith("2026-11-25")]
    assert size > 1024 and human_size(size).endswith(" KiB")
    assert human_size(size) in row
    assert str(size) not in row.split()
    wide = _piped(config, "logs", "status", "-o", "wide", cwd=isolated_cwd).stdout
    [row] = [line for line in wide.splitlines() if line.startswith("2026-11-25")]
    assert str(size) in row.split() and human_size(size) in row
    assert doc["data"]["files"][0]["sha256"] in row  # wide: nothing cut


# -- sizes ---------------------------------------------------------------------------------


def _parse(text: str) -> float:
    number, unit = text.split()
    return float(number) * (1 if unit == "B" else 1024 ** (UNITS.index(unit) + 1))


@given(st.integers(min_value=0, max_value=2**66))
def test_human_size_reads_back_within_its_rounding(size: int) -> None:
    text = human_size(size)
    number, unit = text.split()
    if size < 1024:
        assert text == f"{size} B"
        return
    step = 1024 ** (UNITS.index(unit) + 1)
    assert 1 <= float(number) < 1024 or unit == UNITS[-1]
    assert abs(_parse(text) - size) <= 0.05 * step + 1e-9 * size


@given(st.integers(min_value=0, max_value=2**66), st.integers(min_value=0, max_value=2**66))
def test_human_size_keeps_the_order(a: int, b: int) -> None:
    low, high = sorted((a, b))
    assert _parse(human_size(low)) <= _parse(human_size(high))


# -- party ---------------------------------------------------------------------------------


def test_party_tables_are_headed_by_field_names(ncctl: Runner) -> None:
    result = ncctl("party", "register", "--dry-run")
    assert result.code == 0, result.err
    [header] = [line for line in result.out.splitlines() if line.startswith("PartyDetails")]
    names = header.split()
    assert {"Account", "ExecutingFirm", "CustOrderCapacity", "ClearingAccountType"} <= set(names)
    assert not [name for name in names if name.isdigit()]


# -- status since, whole in a pipe ---------------------------------------------------------


@pytest.fixture
def running_feed(request: pytest.FixtureRequest) -> Path:
    """The sleeping components of the lifecycle tests, the feed handler started (that
    fixture stops both)."""
    path: Path = request.getfixturevalue("lifecycle_config")
    assert main(["--config", str(path), "--clock", "2026-11-25T10:00", "feed", "start"]) == 0
    return path


@pytest.mark.slow
@pytest.mark.parametrize("zone", ["UTC", "Asia/Kolkata"])
def test_status_since_is_whole_and_in_the_zone_in_a_pipe(
    running_feed: Path, isolated_cwd: Path, zone: str
) -> None:
    argv = ("--config", running_feed, "--clock", "2026-11-25T10:00", "status", "--tz", zone)
    doc = run_process(*argv, "--json", cwd=isolated_cwd, columns="40").doc()
    [feed] = [c for c in doc["data"]["components"] if c["name"] == "feed_handler"]
    since = dt.datetime.fromisoformat(feed["since"])
    text = run_process(*argv, cwd=isolated_cwd, columns="40").out
    [row] = [line for line in text.splitlines() if line.startswith("feed_handler")]
    assert since.astimezone(ZoneInfo(zone)).isoformat(timespec="seconds") in row.split()


@pytest.mark.parametrize(
    "argv",
    [
        ("maintenance", "run"),
        ("logs", "rotate"),
        ("clock", "set", "2026-11-25T10:00"),
        ("audit", "log"),
        ("feed", "status"),
        ("status",),
    ],
)
def test_an_unknown_zone_is_refused_before_anything_happens(
    ncctl: Runner, dev_copy: Path, isolated_cwd: Path, argv: tuple[str, ...]
) -> None:
    before = snapshot(isolated_cwd)
    result = ncctl("--config", dev_copy, *WEEKEND, *argv, "--tz", "Mars/Olympus", "--json")
    assert result.code == 64
    assert result.error()["message"] == "--tz 'Mars/Olympus' is not a known time zone"
    assert result.doc()["command"] == " ".join(argv[:2] if len(argv) > 1 else argv)
    assert snapshot(isolated_cwd) == before
