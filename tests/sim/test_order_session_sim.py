"""The order-session simulator as a real child process, and the audit-trail format it writes.

The SIGHUP test plays the daily rotation five times against a session writing as fast as it
can be paced, and checks that every message reached exactly one file of each kind.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
import signal
import subprocess
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest

from ncctl.errors import DataError
from ncctl.ilink.audit_trail import (
    AUDIT_COLUMNS,
    FROM_CME,
    TIMESTAMP_RE,
    TO_CME,
    AuditRow,
    AuditTrailWriter,
    format_row,
    format_utc,
    header_line,
    parse_utc,
    read_rows,
)
from ncctl.sim.order_session import audit_row_seq
from tests.helpers import wait_for
from tests.sim.conftest import Children, stop

Start = Callable[..., subprocess.Popen[bytes]]
FILL_TYPES = {"8--1", "8--2"}


class Paths:
    def __init__(self, root: Path) -> None:
        self.audit = root / "data" / "audit" / "audit.csv"
        self.trade = root / "data" / "trade" / "trade.log"
        self.ion = root / "data" / "ion" / "session.ion"
        self.ready = root / "run" / "order_session.ready"
        self.out = root / "os.out"

    def args(self) -> list[str]:
        return [
            "--audit-file",
            str(self.audit),
            "--trade-file",
            str(self.trade),
            "--ion-file",
            str(self.ion),
            "--ready-file",
            str(self.ready),
            "--session",
            "DEV",
            "--firm",
            "D01",
        ]


@pytest.fixture
def paths(tmp_path: Path) -> Paths:
    return Paths(tmp_path)


@pytest.fixture
def start(children: Children, paths: Paths, tmp_path: Path) -> Start:
    """Start the simulator on the three files under tmp_path, plus ARGS."""

    def _start(*args: str) -> subprocess.Popen[bytes]:
        return children.start(
            "ncctl.sim.order_session", *paths.args(), *args, out=paths.out, cwd=tmp_path
        )

    return _start


def data_lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines() if path.exists() else []


def fields(line: str) -> dict[str, str]:
    """The key=value fields of a trade-log or ION line (the timestamp under "ts")."""
    stamp, *pairs = line.split(" ")
    return {"ts": stamp, **dict(p.split("=", 1) for p in pairs)}


# -- the audit-trail format ------------------------------------------------------------------


def test_audit_columns_follow_cme_order() -> None:
    assert len(AUDIT_COLUMNS) == len(set(AUDIT_COLUMNS)) == 54
    assert AUDIT_COLUMNS[:7] == (
        "Sending Timestamps",
        "Message Direction",
        "Operator ID",
        "Session ID",
        "Manual Order Indicator",
        "Message Type",
        "Instrument",
    )
    assert AUDIT_COLUMNS.index("Client Order ID") == 9
    assert AUDIT_COLUMNS.index("Country of Origin") == 20
    assert AUDIT_COLUMNS.index("Reject Reason") == 27
    assert AUDIT_COLUMNS.index("Party Details List Request ID") == 39
    assert header_line() == ",".join(AUDIT_COLUMNS) + "\n"


def test_format_utc_converts_to_utc_and_truncates_to_milliseconds() -> None:
    chicago = dt.timezone(dt.timedelta(hours=-6))
    at = dt.datetime(2026, 11, 25, 17, 59, 59, 999_999, tzinfo=chicago)
    assert format_utc(at) == "20261125-23:59:59.999"  # never rounded into the next second
    assert parse_utc("20261125-23:59:59.999") == at.replace(microsecond=999_000)
    with pytest.raises(ValueError, match="aware"):
        format_utc(dt.datetime(2026, 11, 25, 17, 30))


def test_a_row_renders_cells_in_column_order() -> None:
    row = AuditRow(
        sending_timestamp=dt.datetime(2026, 1, 5, 14, 0, 0, 5_000, tzinfo=dt.UTC),
        direction=TO_CME,
        operator_id="OP_1",
        manual_order_indicator=False,
        message_type="D",
        client_order_id="A,1",
        limit_price=Decimal("5000.25"),
        party_details_list_request_id=77,
    )
    cells = next(csv.reader([format_row(row)]))
    by_name = dict(zip(AUDIT_COLUMNS, cells, strict=True))
    assert by_name["Sending Timestamps"] == "20260105-14:00:00.005"
    assert by_name["Message Direction"] == "TO CME"
    assert by_name["Manual Order Indicator"] == "0"
    assert by_name["Client Order ID"] == "A,1"  # quoted by the CSV writer, read back whole
    assert by_name["Limit Price"] == "5000.25"
    assert by_name["Party Details List Request ID"] == "77"
    assert sum(1 for c in cells if c) == 8


@pytest.mark.parametrize(
    "bad",
    [
        {"direction": "TO_CME"},
        {"operator_id": "a name with spaces"},
        {"operator_id": "X" * 19},
    ],
)
def test_a_row_refuses_values_cme_does_not_accept(bad: dict[str, str]) -> None:
    kwargs: dict[str, object] = {
        "sending_timestamp": dt.datetime(2026, 1, 5, tzinfo=dt.UTC),
        "direction": FROM_CME,
        **bad,
    }
    with pytest.raises(ValueError):
        AuditRow(**kwargs)  # type: ignore[arg-type]


def test_a_cell_with_a_line_break_is_refused() -> None:
    row = AuditRow(
        sending_timestamp=dt.datetime(2026, 1, 5, tzinfo=dt.UTC),
        direction=FROM_CME,
        reject_reason="two\nlines",
    )
    with pytest.raises(ValueError, match="line break"):
        format_row(row)


def test_writer_repairs_a_cut_last_line_and_refuses_another_layout(tmp_path: Path) -> None:
    path = tmp_path / "audit.csv"
    row = AuditRow(sending_timestamp=dt.datetime(2026, 1, 5, tzinfo=dt.UTC), direction=TO_CME)
    path.write_text(header_line() + format_row(row)[:30])  # a crash cut the last row short
    with AuditTrailWriter(path) as writer:
        writer.write(row)
    lines = path.read_text().splitlines()
    assert lines[1] == format_row(row)[:30]  # the cut line stays alone, visible
    assert lines[2] + "\n" == format_row(row)  # the new row is whole
    with pytest.raises(DataError, match="line 2 has"):
        list(read_rows(path))

    other = tmp_path / "other.csv"
    other.write_text("a,b,c\n1,2,3\n")
    with pytest.raises(DataError, match="not an iLink 3 audit trail"):
        AuditTrailWriter(other).open()
    assert other.read_text() == "a,b,c\n1,2,3\n"


# -- the simulator ---------------------------------------------------------------------------


def test_rows_appear_with_cme_columns_and_timestamps(start: Start, paths: Paths) -> None:
    child = start("--rate", "2000", "--max-rows", "12")
    assert child.wait(timeout=10) == 0

    with paths.audit.open(newline="") as fh:
        assert tuple(next(csv.reader(fh))) == AUDIT_COLUMNS
    rows = list(read_rows(paths.audit))
    assert [r["Message Type"] for r in rows] == [
        "D", "8--0", "8--2",  # order 1: filled
        "D", "8--0", "8--1", "8--2",  # order 2: partial fill, then fill
        "D", "8--0", "F", "8--4",  # order 3: cancelled
        "D",
    ]  # fmt: skip
    assert [audit_row_seq(r) for r in rows] == list(range(1, 13))
    stamps = [r["Sending Timestamps"] for r in rows]
    assert all(TIMESTAMP_RE.match(s) for s in stamps), stamps
    assert stamps == sorted(stamps)
    assert {r["Message Direction"] for r in rows} == {TO_CME, FROM_CME}
    assert all(r["Session ID"] == "DEV" and r["Operator ID"] for r in rows)
    assert all(r["Party Details List Request ID"] == "1" for r in rows)
    orders = [r["Client Order ID"] for r in rows if r["Message Type"] == "D"]
    assert len(set(orders)) == 4

    ion = [fields(line) for line in data_lines(paths.ion)]
    assert [int(f["seq"]) for f in ion] == list(range(1, 13))
    assert [f["ts"] for f in ion] == stamps
    trades = [fields(line) for line in data_lines(paths.trade)]
    assert [int(t["trade"]) for t in trades] == [1, 2, 3]
    assert [int(t["seq"]) for t in trades] == [
        audit_row_seq(r) for r in rows if r["Message Type"] in FILL_TYPES
    ]

    ready = json.loads(paths.ready.read_text())
    assert ready["pid"] == child.pid and ready["session"] == "DEV"
    assert ready["audit_file"] == str(paths.audit.absolute())


@pytest.mark.slow
def test_a_restart_appends_without_a_second_header(start: Start, paths: Paths) -> None:
    assert start("--rate", "2000", "--max-rows", "6").wait(timeout=10) == 0
    assert start("--rate", "2000", "--max-rows", "6").wait(timeout=10) == 0

    assert data_lines(paths.audit).count(header_line().rstrip("\n")) == 1
    rows = list(read_rows(paths.audit))
    assert len(rows) == 12
    orders = [r["Client Order ID"] for r in rows if r["Message Type"] == "D"]
    assert len(orders) == len(set(orders)) == 4, "client order ids are unique across runs"
    assert len(data_lines(paths.ion)) == 12


def test_an_audit_file_of_another_layout_is_left_alone(start: Start, paths: Paths) -> None:
    paths.audit.parent.mkdir(parents=True)
    paths.audit.write_text("a,b,c\n1,2,3\n")
    assert start("--max-rows", "3").wait(timeout=10) == 65
    assert paths.audit.read_text() == "a,b,c\n1,2,3\n"
    assert not paths.ready.exists()
    assert "not an iLink 3 audit trail" in paths.out.read_text()


def test_sighup_rotation_loses_and_duplicates_nothing(start: Start, paths: Paths) -> None:
    child = start("--rate", "3000")
    wait_for(paths.ready.exists, 10, "the ready file")
    rotations = 5
    current = (paths.audit, paths.trade, paths.ion)

    def rows_in(path: Path) -> int:
        return max(0, len(data_lines(path)) - 1)

    for k in range(1, rotations + 1):
        wait_for(lambda: rows_in(paths.audit) >= 30, 10, f"rows before rotation {k}")
        for path in current:
            path.rename(path.with_name(f"{path.name}.{k}"))
        child.send_signal(signal.SIGHUP)
        wait_for(lambda: all(p.exists() for p in current), 10, f"reopen after rotation {k}")
    wait_for(lambda: rows_in(paths.audit) >= 30, 10, "rows after the last rotation")
    child.send_signal(signal.SIGTERM)
    assert child.wait(timeout=10) == 0

    def generations(path: Path) -> list[Path]:
        return [path.with_name(f"{path.name}.{k}") for k in range(1, rotations + 1)] + [path]

    audit_files = generations(paths.audit)
    per_file = [list(read_rows(p)) for p in audit_files]  # each file has its own header
    assert all(per_file), "every generation holds rows"
    rows = [r for part in per_file for r in part]
    seqs = [audit_row_seq(r) for r in rows]
    assert seqs == list(range(1, len(seqs) + 1)), "each message once, in order, no gap"

    ion_seqs = [int(fields(line)["seq"]) for p in generations(paths.ion) for line in data_lines(p)]
    assert ion_seqs == seqs

    trades = [fields(line) for p in generations(paths.trade) for line in data_lines(p)]
    assert [int(t["trade"]) for t in trades] == list(range(1, len(trades) + 1))
    fills = [audit_row_seq(r) for r in rows if r["Message Type"] in FILL_TYPES]
    assert [int(t["seq"]) for t in trades] == fills and fills

    assert paths.out.read_text().count("files reopened") == rotations
    assert "stopping (SIGTERM)" in paths.out.read_text()


def test_sigterm_between_slow_rows_exits_promptly(start: Start, paths: Paths) -> None:
    child = start("--rate", "0.5")  # one row every two seconds
    wait_for(lambda: len(data_lines(paths.audit)) >= 2, 10, "the first row")
    code, took = stop(child)
    assert code == 0
    assert took < 0.5, f"SIGTERM took {took:.3f} s to act on between rows 2 s apart"
    assert len(list(read_rows(paths.audit))) == 1


def test_a_file_that_cannot_be_created_exits_73(start: Start, paths: Paths) -> None:
    paths.trade.parent.parent.mkdir(parents=True)
    paths.trade.parent.write_text("a file where the trade directory should be")
    assert start("--max-rows", "1").wait(timeout=10) == 73
    assert not paths.ready.exists()


def test_operator_id_is_checked_before_starting(start: Start, paths: Paths) -> None:
    assert start("--operator", "has spaces").wait(timeout=10) == 2
    assert re.search(r"--operator: operator_id", paths.out.read_text())
