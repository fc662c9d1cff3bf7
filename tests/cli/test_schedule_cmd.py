"""``ncctl schedule now|show|next|check`` and ``ncctl status`` through the CLI entry point.

Reference week: Sunday 2026-11-22 to Friday 2026-11-27 (CST, UTC-6), with Thanksgiving
(2026-11-26, early close 12:00) and the day after (2026-11-27, early close 12:15).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from ncctl.schedule.files import STATE_EVENTS
from tests.cli.conftest import TEMPLATE_TOML, Runner, snapshot, write_config
from tests.helpers import run_process

STATE_KEYS = {
    "at",
    "market_state",
    "feed_handler",
    "order_entry",
    "maintenance",
    "l3_loop",
    "trade_date",
    "holiday",
    "next",
}
HOLIDAY_KEYS = {"date", "kind", "name", "close", "note"}


def assert_state_shape(data: dict[str, Any]) -> None:
    assert set(data) == STATE_KEYS, sorted(data)
    assert data["market_state"] in {"CLOSED", "PRE_OPEN", "OPEN"}
    assert data["feed_handler"] in {"on", "off"}
    assert data["order_entry"] in {"up", "down"}
    assert isinstance(data["maintenance"], bool)
    assert data["l3_loop"] in {"on", "off"}
    # l3_loop is on exactly when the feed handler is on and the market is CLOSED
    assert (data["l3_loop"] == "on") == (
        data["feed_handler"] == "on" and data["market_state"] == "CLOSED"
    )
    dt.date.fromisoformat(data["trade_date"])
    at = dt.datetime.fromisoformat(data["at"])
    assert at.utcoffset() is not None
    if data["holiday"] is not None:
        assert set(data["holiday"]) == HOLIDAY_KEYS
    assert len(data["next"]) == 5
    previous = at
    for item in data["next"]:
        assert set(item) == {"at", "event"}
        assert item["event"] in STATE_EVENTS
        when = dt.datetime.fromisoformat(item["at"])
        assert when >= previous
        previous = when


# -- schedule now --------------------------------------------------------------------------


def test_now_on_the_day_after_thanksgiving(ncctl: Runner) -> None:
    data = ncctl("schedule", "now", "--json", "--at", "2026-11-27T12:20").data()
    assert_state_shape(data)
    assert data == {
        "at": "2026-11-27T12:20:00-06:00",
        "market_state": "CLOSED",  # early close 12:15
        "feed_handler": "on",
        "order_entry": "up",
        "maintenance": False,
        "l3_loop": "on",
        "trade_date": "2026-11-27",
        "holiday": {
            "date": "2026-11-27",
            "kind": "early_close",
            "name": "Day after Thanksgiving",
            "close": "12:15",
            "note": "equity closes 12:15 CT",
        },
        "next": [
            {"at": "2026-11-27T16:00:00-06:00", "event": "order_entry.down"},
            {"at": "2026-11-27T16:00:00-06:00", "event": "feed_handler.off"},
            {"at": "2026-11-27T16:01:00-06:00", "event": "rotation.weekly"},
            {"at": "2026-11-29T15:00:00-06:00", "event": "feed_handler.on"},
            {"at": "2026-11-29T15:25:00-06:00", "event": "party_registration"},
        ],
    }


@pytest.mark.parametrize(
    "at", ["2026-11-27T12:20", "2026-11-27T18:20Z", "2026-11-27T13:20-05:00", "2026-11-27T18:20"]
)
def test_now_at_with_and_without_offset(ncctl: Runner, at: str) -> None:
    data = ncctl("schedule", "now", "--json", "--at", at).data()
    if at == "2026-11-27T18:20":
        # no offset: Chicago wall-clock 18:20, after the week ended
        assert data["at"] == "2026-11-27T18:20:00-06:00"
        assert (data["feed_handler"], data["order_entry"]) == ("off", "down")
    else:
        # the same instant written three ways
        assert data["at"] == "2026-11-27T12:20:00-06:00"
        assert (data["market_state"], data["feed_handler"]) == ("CLOSED", "on")


def test_now_offset_is_an_instant_not_a_wall_clock(ncctl: Runner) -> None:
    # 12:20-05:00 is 11:20 in Chicago: before the 12:15 early close, the market is OPEN
    data = ncctl("schedule", "now", "--json", "--at", "2026-11-27T12:20-05:00").data()
    assert data["at"] == "2026-11-27T11:20:00-06:00"
    assert (data["market_state"], data["l3_loop"]) == ("OPEN", "off")


def test_now_tz_utc_renders_utc(ncctl: Runner) -> None:
    data = ncctl("schedule", "now", "--json", "--at", "2026-11-27T12:20", "--tz", "UTC").data()
    assert data["at"] == "2026-11-27T18:20:00+00:00"
    assert all(item["at"].endswith("+00:00") for item in data["next"])
    assert data["next"][0] == {"at": "2026-11-27T22:00:00+00:00", "event": "order_entry.down"}
    text = ncctl("schedule", "now", "--at", "2026-11-27T12:20", "--tz", "UTC")
    assert text.code == 0
    assert "2026-11-27T18:20:00+00:00" in text.out
    assert "2026-11-27T22:00:00+00:00" in text.out


def test_now_tz_in_summer_uses_cdt(ncctl: Runner) -> None:
    data = ncctl("schedule", "now", "--json", "--at", "2026-07-15T10:00").data()
    assert data["at"] == "2026-07-15T10:00:00-05:00"
    assert data["market_state"] == "OPEN"


def test_now_in_the_maintenance_window(ncctl: Runner) -> None:
    data = ncctl("schedule", "now", "--json", "--at", "2026-11-24T16:10").data()
    assert_state_shape(data)
    assert (data["market_state"], data["order_entry"], data["maintenance"], data["l3_loop"]) == (
        "CLOSED",
        "down",
        True,
        "on",
    )
    assert data["holiday"] is None
    assert data["next"][:2] == [
        {"at": "2026-11-24T16:30:00-06:00", "event": "maintenance.end"},
        {"at": "2026-11-24T16:30:00-06:00", "event": "order_entry.up"},
    ]


def test_now_dst_gap_is_a_usage_error(ncctl: Runner) -> None:
    result = ncctl("schedule", "now", "--at", "2026-03-08T02:30")
    assert result.code == 64
    assert result.out == ""
    first, hint = result.err.splitlines()[:2]
    assert "--at '2026-03-08T02:30'" in first
    assert "does not exist" in first
    assert hint.startswith("hint: ")
    err = ncctl("schedule", "now", "--at", "2026-03-08T02:30", "--json").error()
    assert err["code"] == "usage"
    assert "does not exist" in err["message"]


def test_now_dst_fold_is_a_usage_error(ncctl: Runner) -> None:
    result = ncctl("schedule", "now", "--at", "2026-11-01T01:30")
    assert result.code == 64
    first, hint = result.err.splitlines()[:2]
    assert "--at '2026-11-01T01:30'" in first
    assert "ambiguous" in first
    assert "-05:00" in hint and "-06:00" in hint
    # with an offset, either occurrence is fine
    first_pass = ncctl("schedule", "now", "--at", "2026-11-01T01:30-05:00", "--json").data()
    second_pass = ncctl("schedule", "now", "--at", "2026-11-01T01:30-06:00", "--json").data()
    assert first_pass["at"] == "2026-11-01T01:30:00-05:00"
    assert second_pass["at"] == "2026-11-01T01:30:00-06:00"


def test_now_dst_gap_with_an_offset_is_fine(ncctl: Runner) -> None:
    data = ncctl("schedule", "now", "--at", "2026-03-08T08:30Z", "--json").data()
    assert data["at"] == "2026-03-08T03:30:00-05:00"


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (("--at", "yesterday"), "--at 'yesterday'"),
        (("--at", "2026-13-01T00:00"), "--at '2026-13-01T00:00'"),
        (("--tz", "Mars/Olympus"), "--tz 'Mars/Olympus'"),
        (("--tz", " UTC"), "--tz ' UTC'"),
    ],
)
def test_now_bad_values_name_the_option(ncctl: Runner, argv: tuple[str, ...], named: str) -> None:
    result = ncctl("schedule", "now", *argv)
    assert result.code == 64
    assert named in result.err
    assert "\nhint: " in result.err


# -- schedule show -------------------------------------------------------------------------


def test_show_week(ncctl: Runner) -> None:
    data = ncctl("schedule", "show", "--week", "2026-11-22", "--json").data()
    assert set(data) == {"from", "to", "events", "days"}
    assert (data["from"], data["to"]) == ("2026-11-22T00:00:00-06:00", "2026-11-29T00:00:00-06:00")
    events = data["events"]
    assert events[0] == {"at": "2026-11-22T15:00:00-06:00", "event": "feed_handler.on"}
    assert events[-1] == {"at": "2026-11-27T16:01:00-06:00", "event": "rotation.weekly"}
    times = [dt.datetime.fromisoformat(e["at"]) for e in events]
    assert times == sorted(times)
    assert all(set(e) == {"at", "event"} for e in events)
    # the early closes of Thanksgiving and the day after
    closes = [e["at"] for e in events if e["event"] == "market.closed"]
    assert "2026-11-26T12:00:00-06:00" in closes
    assert "2026-11-27T12:15:00-06:00" in closes
    assert [e["event"] for e in events].count("rotation.daily") == 4


def test_show_week_any_day_of_the_week(ncctl: Runner) -> None:
    sunday = ncctl("schedule", "show", "--week", "2026-11-22", "--json").data()
    wednesday = ncctl("schedule", "show", "--week", "2026-11-25", "--json").data()
    saturday = ncctl("schedule", "show", "--week", "2026-11-28", "--json").data()
    assert sunday == wednesday == saturday


def test_show_week_tz_utc(ncctl: Runner) -> None:
    data = ncctl("schedule", "show", "--week", "2026-11-22", "--tz", "UTC", "--json").data()
    assert data["events"][0] == {"at": "2026-11-22T21:00:00+00:00", "event": "feed_handler.on"}


def test_show_week_text(ncctl: Runner) -> None:
    result = ncctl("schedule", "show", "--week", "2026-11-22")
    assert result.code == 0
    assert "Sun 2026-11-22" in result.out
    assert "rotation.weekly" in result.out
    assert result.err == ""


def test_show_from_to(ncctl: Runner) -> None:
    data = ncctl(
        "schedule", "show", "--from", "2026-11-23T16:00", "--to", "2026-11-23T16:45", "--json"
    ).data()
    assert (data["from"], data["to"]) == ("2026-11-23T16:00:00-06:00", "2026-11-23T16:45:00-06:00")
    assert data["events"] == [
        {"at": "2026-11-23T16:00:00-06:00", "event": "market.closed"},
        {"at": "2026-11-23T16:01:00-06:00", "event": "maintenance.start"},
        {"at": "2026-11-23T16:01:00-06:00", "event": "order_entry.down"},
        {"at": "2026-11-23T16:01:00-06:00", "event": "rotation.daily"},
        {"at": "2026-11-23T16:30:00-06:00", "event": "maintenance.end"},
        {"at": "2026-11-23T16:30:00-06:00", "event": "order_entry.up"},
    ]  # --to is exclusive: 16:45 market.pre_open is not in the span


@pytest.mark.parametrize(
    "argv",
    [
        ("--from", "2026-11-23T16:00"),
        ("--to", "2026-11-23T16:00"),
        ("--from", "2026-11-24T00:00", "--to", "2026-11-23T00:00"),
        ("--from", "2026-11-24T00:00", "--to", "2026-11-24T00:00"),
        ("--week", "2026-11-22", "--from", "2026-11-23T00:00", "--to", "2026-11-24T00:00"),
        ("--from", "2020-01-01T00:00", "--to", "2030-01-01T00:00"),
        ("--week", "22/11/2026"),
        ("--from", "2026-03-08T02:30", "--to", "2026-03-09T00:00"),
    ],
)
def test_show_bad_spans_are_usage_errors(ncctl: Runner, argv: tuple[str, ...]) -> None:
    result = ncctl("schedule", "show", *argv, "--json")
    assert result.code == 64, result.out
    assert result.error()["code"] == "usage"


# -- schedule next -------------------------------------------------------------------------


def test_next_market_events(ncctl: Runner) -> None:
    at = ("--at", "2026-11-27T12:20")
    data = ncctl("schedule", "next", "--count", "3", "--event", "market.", *at, "--json").data()
    assert data == {
        "at": "2026-11-27T12:20:00-06:00",
        "events": [
            {"at": "2026-11-29T16:00:00-06:00", "event": "market.pre_open"},
            {"at": "2026-11-29T17:00:00-06:00", "event": "market.open"},
            {"at": "2026-11-30T16:00:00-06:00", "event": "market.closed"},
        ],
    }


def test_next_without_at_counts_from_now(ncctl: Runner) -> None:
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    data = ncctl("schedule", "next", "-n", "2", "--event", "party", "--json").data()
    after = dt.datetime.now(dt.UTC)
    at = dt.datetime.fromisoformat(data["at"])
    assert before <= at <= after
    assert [e["event"] for e in data["events"]] == ["party_registration"] * 2
    first = dt.datetime.fromisoformat(data["events"][0]["at"])
    assert at < first <= at + dt.timedelta(days=15)


def test_next_unknown_event_prefix_is_a_usage_error(ncctl: Runner) -> None:
    result = ncctl("schedule", "next", "--event", "markets", "--json")
    assert result.code == 64
    err = result.error()
    assert "--event 'markets'" in err["message"]
    assert "market.open" in err["hint"]


@pytest.mark.parametrize("count", ["0", "1001", "three"])
def test_next_count_out_of_range_is_a_parse_error(ncctl: Runner, count: str) -> None:
    result = ncctl("schedule", "next", "--count", count, "--json")
    assert result.code == 2
    assert result.error()["code"] == "usage.parse"


# -- schedule check ------------------------------------------------------------------------


def test_check_default_files(ncctl: Runner) -> None:
    data = ncctl("schedule", "check", "--json").data()
    files = data["files"]
    assert [(Path(f["file"]).name, f["kind"]) for f in files] == [
        ("cme-globex.toml", "template"),
        ("cme-2026.toml", "holidays"),
        ("cme-2027.toml", "holidays"),
    ]
    assert [f.get("year") for f in files[1:]] == [2026, 2027]


def test_check_a_bad_file_names_file_and_key(ncctl: Runner, tmp_path: Path) -> None:
    bad = write_config(
        tmp_path / "sched" / "bad.toml",
        TEMPLATE_TOML.read_text(encoding="utf-8").replace('end = "16:30"', 'end = "16:75"'),
    )
    before = snapshot(tmp_path)
    result = ncctl("schedule", "check", TEMPLATE_TOML, bad, "--json")
    assert result.code == 78
    assert result.error()["message"].startswith(f"{bad}: windows[0].end: ")
    text = ncctl("schedule", "check", bad)
    assert text.code == 78
    assert text.err.startswith(f"ncctl: error: {bad}: windows[0].end: ")
    assert "\nhint: " in text.err
    assert snapshot(tmp_path) == before


# -- status --------------------------------------------------------------------------------


def test_status_json_shape(ncctl: Runner, dev_copy: Path) -> None:
    # a Saturday: every component is scheduled off and none runs, so there is no drift
    result = ncctl("--config", dev_copy, "--clock", "2026-11-28T12:00", "status", "--json")
    data = result.data()
    assert {"at", "config", "environment", "schedule", "components"} <= set(data)
    assert data["at"] == "2026-11-28T12:00:00-06:00"
    assert data["config"] == {"path": str(dev_copy), "source": "--config"}
    assert data["environment"] == "dev"
    assert_state_shape(data["schedule"])
    assert data["schedule"]["at"] == data["at"]
    assert (data["schedule"]["feed_handler"], data["schedule"]["order_entry"]) == ("off", "down")
    assert "week" not in data
    rows = {row["name"]: row for row in data["components"]}
    assert set(rows) == {"feed_handler", "order_session"}
    assert all(set(row) >= {"desired", "actual", "drift"} for row in rows.values())
    assert all(row["drift"] is False for row in rows.values())


def test_status_week(ncctl: Runner) -> None:
    data = ncctl("--clock", "2026-11-28T12:00", "status", "--week", "--tz", "UTC", "--json").data()
    week = data["week"]
    assert week[0] == {"at": "2026-11-22T21:00:00+00:00", "event": "feed_handler.on"}
    assert week[-1] == {"at": "2026-11-27T22:01:00+00:00", "event": "rotation.weekly"}
    assert all(e["at"].endswith("+00:00") for e in week)


# -- end to end ----------------------------------------------------------------------------


@pytest.mark.slow
def test_real_process_schedule_now(isolated_cwd: Path) -> None:
    ok = run_process("schedule", "now", "--at", "2026-11-27T12:20", "--json", cwd=isolated_cwd)
    assert ok.code == 0, ok.err
    assert json.loads(ok.out)["data"]["market_state"] == "CLOSED"
    gap = run_process("schedule", "now", "--at", "2026-03-08T02:30", cwd=isolated_cwd)
    assert gap.code == 64
    assert "Traceback" not in gap.err
    assert "does not exist" in gap.err
    assert gap.out == ""
