"""iLink 3 order-session simulator: writes the audit trail, trade log and ION files of a
session that trades without end.

``python -m ncctl.sim.order_session --audit-file PATH --trade-file PATH --ion-file PATH
[--ready-file PATH] [--rate ROWS_PER_S] [--max-rows N] [--session ID] [--firm ID]
[--operator ID]``

Traffic. Orders follow one another; order *n* is a NewOrderSingle (514, ``TO CME``) and its
ExecutionReportNew (522), then

* n % 3 == 1: one ExecutionReportTradeOutright (525) filling it (``8--2``);
* n % 3 == 2: a partial fill (``8--1``) and the fill (``8--2``);
* n % 3 == 0: an OrderCancelRequest (516, ``TO CME``) and its ExecutionReportCancel (534).

Every message gets the next message sequence number (1, 2, 3, ... for this run, both
directions in one series) and is written, in this order, as one audit-trail row, one
trade-log line if it is a fill, and one ION line. ``--rate`` paces the messages (audit rows)
per second; ``--max-rows`` ends the run after that many, with exit status 0.

Identifiers. Client order ids are ``<run>-<n>``, where ``<run>`` is the start time in
base 36 milliseconds, unique across runs within a trading day as CME requires; the Order Flow
ID is the same. The audit trail has no column for a sequence number, so the simulator
carries it in CME's own identifier columns: a ``TO CME`` row's Order Request ID (tag 2422,
one per request) is its sequence number, and a ``FROM CME`` row's CME Globex Message ID (the
ExecID, or SideTradeID of a fill) is its sequence number. :func:`audit_row_seq` reads it
back.

Trade log (``--trade-file``): one line per fill, ``key=value`` fields separated by spaces::

    20261125-23:30:00.123 trade=1 seq=3 session=DEV firm=D01 clordid=MWR1433C-1 \
order_id=1795555200123001 exec_id=3 security_id=42140878 side=BUY last_qty=2 last_px=5000.25 \
cum_qty=2 leaves_qty=0

``trade`` numbers the fills of this run from 1. ION file (``--ion-file``): one line per
message, the same layout::

    20261125-23:30:00.121 seq=1 dir=TO session=DEV firm=D01 template=514 \
msg=NewOrderSingle clordid=MWR1433C-1 ...

Timestamps are UTC ``YYYYMMDD-hh:mm:ss.sss`` as in the audit trail.

Files and signals. The three files are opened in append mode (their directories created);
a new audit file gets the CSV header. Once they are open, ``--ready-file`` is written
atomically (a JSON object). Each line is written whole with one write and flushed. SIGHUP
reopens all three files by path between two messages, so that a file renamed away by the
rotation keeps every line up to the signal and the new file every line after it: none lost,
none twice. The new files are opened before the old ones are closed; if that fails the old
ones are kept and the failure logged. SIGTERM or SIGINT: the current message is finished,
the files flushed, synced and closed, exit status 0. Exit status 73 when a file cannot be
opened at start, 65 when an existing audit file has another layout, 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import IO

from ncctl.clock import Clock, SystemClock
from ncctl.errors import DataError
from ncctl.logs.audit_trail import (
    FROM_CME,
    MESSAGE_TYPES,
    TO_CME,
    AuditRow,
    AuditTrailWriter,
    Cell,
    Direction,
    execution_report_type,
    format_utc,
)
from ncctl.sim import SignalWatch, log, write_atomic_text

PROG = "order_session"
EXIT_DATAERR = 65
EXIT_CANTCREAT = 73

SECURITY_ID = 42140878
BASE_PRICE = Decimal("5000.00")
TICK = Decimal("0.25")
PARTY_DETAILS_LIST_REQ_ID = 1
COUNTRY = "US"
#: a stall longer than this is not made up with a burst of messages
_MAX_LAG_S = 1.0

#: the SBE message names of the templates the simulator sends and receives
TEMPLATE_NAMES = {
    514: "NewOrderSingle",
    516: "OrderCancelRequest",
    522: "ExecutionReportNew",
    525: "ExecutionReportTradeOutright",
    534: "ExecutionReportCancel",
}


def _base36(n: int) -> str:
    digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return out


def audit_row_seq(row: Mapping[str, str]) -> int:
    """The simulator's sequence number of an audit-trail row (see the module docstring)."""
    if row["Message Direction"] == TO_CME:
        return int(row["Order Request ID"])
    return int(row["CME Globex Message ID"])


@dataclass(frozen=True, slots=True)
class Message:
    """One simulated iLink 3 message, as the lines it adds to the three files."""

    seq: int
    audit: AuditRow
    ion_line: str
    trade_line: str | None


@dataclass(slots=True)
class _Order:
    n: int
    clordid: str
    globex_id: int
    side: int
    qty: int
    price: Decimal
    request_id: int = 0
    cum_qty: int = 0


def _fields(stamp: str, pairs: Mapping[str, object]) -> str:
    return stamp + "".join(f" {k}={v}" for k, v in pairs.items()) + "\n"


class TrafficScript:
    """The endless, deterministic message flow of one session run (see the docstring)."""

    def __init__(self, session: str, firm: str, operator: str, clock: Clock) -> None:
        self.session = session
        self.firm = firm
        self.operator = operator
        self.clock = clock
        started_ms = int(clock.now().timestamp() * 1000)
        self.run_id = _base36(started_ms)
        self._order_id_base = started_ms * 1000
        self.seq = 0
        self.trades = 0

    def messages(self) -> Iterator[Message]:
        n = 0
        while True:
            n += 1
            order = _Order(
                n=n,
                clordid=f"{self.run_id}-{n}",
                globex_id=self._order_id_base + n,
                side=1 if n % 2 else 2,
                qty=2 if n % 3 == 2 else 1 + n % 4,
                price=BASE_PRICE + TICK * (n % 20),
            )
            yield self._request(order, 514)
            yield self._report(order, 522, "0")
            if n % 3 == 1:
                yield self._fill(order, order.qty)
            elif n % 3 == 2:
                yield self._fill(order, 1)
                yield self._fill(order, order.qty - 1)
            else:
                yield self._request(order, 516)
                yield self._report(order, 534, "4")

    def _message(
        self,
        order: _Order,
        template: int,
        direction: Direction,
        message_type: str,
        *,
        extra_audit: dict[str, Cell],
        extra_ion: Mapping[str, object],
        trade: Mapping[str, object] | None = None,
    ) -> Message:
        now = self.clock.now()
        audit = AuditRow(
            sending_timestamp=now,
            direction=direction,
            operator_id=self.operator,
            session_id=self.session,
            manual_order_indicator=0,
            message_type=message_type,
            instrument=SECURITY_ID,
            order_flow_id=order.clordid,
            client_order_id=order.clordid,
            order_request_id=order.request_id,
            side=order.side,
            country_of_origin=COUNTRY,
            party_details_list_request_id=PARTY_DETAILS_LIST_REQ_ID,
            **extra_audit,
        )
        ion = _fields(
            format_utc(now),
            {
                "seq": self.seq,
                "dir": "TO" if direction == TO_CME else "FROM",
                "session": self.session,
                "firm": self.firm,
                "template": template,
                "msg": TEMPLATE_NAMES[template],
                "clordid": order.clordid,
                **extra_ion,
            },
        )
        trade_line = None if trade is None else _fields(format_utc(now), trade)
        return Message(self.seq, audit, ion, trade_line)

    def _request(self, order: _Order, template: int) -> Message:
        self.seq += 1
        order.request_id = self.seq
        audit: dict[str, Cell] = {"quantity": order.qty}
        if template == 514:
            audit.update(limit_price=order.price, order_type=2, order_qualifier=0)
        else:
            audit["globex_order_id"] = order.globex_id
        ion = {"request_id": self.seq, "side": order.side, "qty": order.qty, "px": order.price}
        return self._message(
            order, template, TO_CME, MESSAGE_TYPES[template], extra_audit=audit, extra_ion=ion
        )

    def _report(self, order: _Order, template: int, ord_status: str) -> Message:
        self.seq += 1
        leaves = 0 if ord_status == "4" else order.qty - order.cum_qty
        audit: dict[str, Cell] = {
            "globex_order_id": order.globex_id,
            "globex_message_id": self.seq,
            "quantity": order.qty,
            "limit_price": order.price,
            "cumulative_quantity": order.cum_qty,
            "remaining_quantity": leaves,
        }
        ion = {"order_id": order.globex_id, "exec_id": self.seq, "ord_status": ord_status}
        return self._message(
            order,
            template,
            FROM_CME,
            execution_report_type(ord_status),
            extra_audit=audit,
            extra_ion=ion,
        )

    def _fill(self, order: _Order, qty: int) -> Message:
        self.seq += 1
        self.trades += 1
        order.cum_qty += qty
        leaves = order.qty - order.cum_qty
        status = "2" if leaves == 0 else "1"
        audit: dict[str, Cell] = {
            "globex_order_id": order.globex_id,
            "globex_message_id": self.seq,
            "quantity": order.qty,
            "limit_price": order.price,
            "fill_price": order.price,
            "fill_quantity": qty,
            "cumulative_quantity": order.cum_qty,
            "remaining_quantity": leaves,
            "aggressor_flag": 0,
        }
        ion = {
            "order_id": order.globex_id,
            "exec_id": self.seq,
            "ord_status": status,
            "last_qty": qty,
            "last_px": order.price,
        }
        trade = {
            "trade": self.trades,
            "seq": self.seq,
            "session": self.session,
            "firm": self.firm,
            "clordid": order.clordid,
            "order_id": order.globex_id,
            "exec_id": self.seq,
            "security_id": SECURITY_ID,
            "side": "BUY" if order.side == 1 else "SELL",
            "last_qty": qty,
            "last_px": order.price,
            "cum_qty": order.cum_qty,
            "leaves_qty": leaves,
        }
        return self._message(
            order,
            525,
            FROM_CME,
            execution_report_type(status),
            extra_audit=audit,
            extra_ion=ion,
            trade=trade,
        )


class SessionFiles:
    """The three open files of the session."""

    def __init__(self, audit: Path, trade: Path, ion: Path) -> None:
        self.paths = (audit, trade, ion)
        self.audit = AuditTrailWriter(audit)
        self.trade: IO[str] | None = None
        self.ion: IO[str] | None = None

    def open(self) -> SessionFiles:
        """Open (create) all three; on failure nothing stays open."""
        try:
            for path in self.paths:
                path.parent.mkdir(parents=True, exist_ok=True)
            self.audit.open()
            self.trade = self.paths[1].open("a", encoding="utf-8", newline="")
            self.ion = self.paths[2].open("a", encoding="utf-8", newline="")
        except BaseException:
            self.close(sync=False)
            raise
        return self

    def write(self, message: Message) -> None:
        assert self.trade is not None and self.ion is not None
        self.audit.write(message.audit)
        if message.trade_line is not None:
            self.trade.write(message.trade_line)
            self.trade.flush()
        self.ion.write(message.ion_line)
        self.ion.flush()

    def close(self, sync: bool = True) -> None:
        errors: list[OSError] = []
        try:
            self.audit.close(sync=sync)
        except OSError as exc:
            errors.append(exc)
        for fh in (self.trade, self.ion):
            if fh is None:
                continue
            try:
                fh.flush()
                if sync:
                    os.fsync(fh.fileno())
            except OSError as exc:
                errors.append(exc)
            finally:
                fh.close()
        self.trade = self.ion = None
        if errors:
            raise errors[0]


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be greater than 0")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m ncctl.sim.order_session",
        description="Simulated iLink 3 session: writes audit-trail, trade-log and ION files.",
    )
    parser.add_argument("--audit-file", type=Path, required=True, help="audit trail (CSV)")
    parser.add_argument("--trade-file", type=Path, required=True, help="trade log")
    parser.add_argument("--ion-file", type=Path, required=True, help="ION message log")
    parser.add_argument("--ready-file", type=Path, default=None, help="written once ready")
    parser.add_argument(
        "--rate", type=_positive, default=2.0, help="messages (audit rows) per second"
    )
    parser.add_argument("--max-rows", type=_count, default=None, help="stop after N rows")
    parser.add_argument("--session", default="SIM", help="iLink session id (default SIM)")
    parser.add_argument("--firm", default="SIM01", help="executing firm id (default SIM01)")
    parser.add_argument(
        "--operator", default="NCCTL-SIM", help="operator id, tag 5392 (default NCCTL-SIM)"
    )
    args = parser.parse_args(argv)
    try:
        AuditRow(sending_timestamp=SystemClock().now(), direction=TO_CME, operator_id=args.operator)
    except ValueError as exc:
        parser.error(f"--operator: {exc}")
    return args


def _reopen(files: SessionFiles) -> SessionFiles:
    """New handles on the same paths, opened before the old are closed."""
    fresh = SessionFiles(*files.paths)
    try:
        fresh.open()
    except (OSError, DataError) as exc:
        log(PROG, f"SIGHUP: cannot reopen the files, keeping the old ones: {exc}", error=True)
        return files
    try:
        files.close()
    except OSError as exc:
        log(PROG, f"SIGHUP: closing the old files: {exc}", error=True)
    log(PROG, "SIGHUP: files reopened")
    return fresh


def run(args: argparse.Namespace, watch: SignalWatch, clock: Clock) -> int:
    """Write traffic until SIGTERM, SIGINT or --max-rows; the exit status."""
    files = SessionFiles(args.audit_file, args.trade_file, args.ion_file)
    try:
        files.open()
    except DataError as exc:
        log(PROG, exc.message, error=True)
        return EXIT_DATAERR
    except OSError as exc:
        log(PROG, f"{exc.filename}: cannot open: {exc.strerror}", error=True)
        return EXIT_CANTCREAT
    traffic = TrafficScript(args.session, args.firm, args.operator, clock)
    run_id = traffic.run_id
    script = traffic.messages()
    if args.ready_file is not None:
        ready = {
            "pid": os.getpid(),
            "session": args.session,
            "firm": args.firm,
            "run": run_id,
            "audit_file": str(args.audit_file.absolute()),
            "trade_file": str(args.trade_file.absolute()),
            "ion_file": str(args.ion_file.absolute()),
        }
        try:
            args.ready_file.parent.mkdir(parents=True, exist_ok=True)
            write_atomic_text(args.ready_file, json.dumps(ready) + "\n")
        except OSError as exc:
            log(PROG, f"{args.ready_file}: cannot write: {exc.strerror}", error=True)
            files.close()
            return EXIT_CANTCREAT
    log(
        PROG,
        f"ready: session {args.session}, firm {args.firm}, run {run_id}, "
        f"{args.rate:g} rows/s" + (f", at most {args.max_rows}" if args.max_rows else ""),
    )
    period = 1.0 / args.rate
    written = 0
    start = time.monotonic()
    due = 0  # messages due since start
    reason = "SIGTERM"
    try:
        while True:
            if watch.take(signal.SIGHUP):
                files = _reopen(files)
            if watch.seen(signal.SIGTERM, signal.SIGINT):
                break
            if args.max_rows is not None and written >= args.max_rows:
                reason = "max rows"
                break
            delay = start + due * period - time.monotonic()
            if delay > 0:
                watch.wait(delay)
                continue
            if delay < -_MAX_LAG_S:  # stalled (suspended?): pace from now, no burst
                start, due = time.monotonic(), 0
            files.write(next(script))
            written += 1
            due += 1
    except OSError as exc:
        log(PROG, f"write failed after {written} rows: {exc}", error=True)
        with contextlib.suppress(OSError):
            files.close()
        return EXIT_CANTCREAT
    files.close()
    log(PROG, f"stopping ({reason}) after {written} rows")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    watch = SignalWatch((signal.SIGTERM, signal.SIGINT, signal.SIGHUP))
    try:
        return run(args, watch, SystemClock())
    finally:
        watch.close()


if __name__ == "__main__":
    sys.exit(main())
