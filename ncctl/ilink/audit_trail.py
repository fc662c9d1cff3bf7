"""The CME iLink 3 audit-trail file: columns, timestamps, and a row writer.

CME Rule 536.B asks every front end to keep an audit trail of each message sent to or
received from CME Globex; the clearing member keeps it at least five years. The file is a CSV
with one row per message, one header line, columns in CME's fixed order, and UTC timestamps.

Sources, and where a decision was needed
----------------------------------------

* Column order and names, positions 1-40: CME Group Client Systems Wiki, the per-message
  pages "New Order - iLink 3 Audit Trail Requirements", "Execution Report - Fill Notice -
  iLink 3 Audit Trail Requirements", "Execution Report - Order Cancel Acknowledgment - ...",
  "Execution Report - Reject - ...", "Business Level Reject - ...", "Order Modification -
  ...", "Mass Quote - iLink 3 Minimum Audit Trail Requirements", "Mass Quote Cancel - ..." and
  "Request for Quote - ..." (cmegroupclientsite.atlassian.net, space EPICSANDBOX). Each page
  lists only the positions that apply to that message, with the same numbering; together they
  name positions 1-16, 21-29, 31-34, 36 and 40. The positions no page I could read names
  (17-20, 30, 35, 37-39) were cross-checked against a public C++ iLink 3 implementation whose
  header list cites CME's "iLink 3 - Minimum Acceptable Audit Trail Elements - Data
  Definitions and Validation Rules" page; it agrees with every CME position above.
* Positions 41-54 carry the Party Details Definition Request (518, MsgType CX) fields that
  docs/design.md §5.4 says must appear in the audit trail. Their order is taken from that same
  implementation; I could not read CME's own page for them. *Decision*: their names are
  spelled out in full ("Self-Match Prevention Instruction", "Average Price Group ID", ...)
  where the implementation abbreviates. Check them against CME's page before certification.
* Names: CME's own wording, including the plural "Sending Timestamps" and "Aggressor Flag".
* Timestamps: CME asks for ``YYYYMMDD-hh:mm:ss.sssss`` "populated minimally at millisecond
  precision"; docs/design.md §5.4 fixes ``YYYYMMDD-hh:mm:ss.sss``. *Decision*: milliseconds,
  truncated (never rounded, so a stamp never moves into the next second or day).
* Message Type: the FIX MsgType of the message (``D`` NewOrderSingle 514, ``F``
  OrderCancelRequest 516, ``G`` OrderCancelReplaceRequest 515, ``CX`` 518, ``CY`` 519, ``j``
  BusinessReject 521); an execution report is ``8--`` followed by its OrdStatus (CME's pages
  show ``8--1``/``8--2`` for fills, ``8--4`` for a cancel, ``8--8`` for a reject; ``8--0``
  for an acknowledgement follows the same rule).
* Message Direction: ``TO CME`` or ``FROM CME``.
* CSV dialect: comma, minimal quoting, ``\\n`` line ends (*decision*: CME names no line
  terminator; ``\\n`` keeps the file line-oriented for rotation and verification). A cell may
  not contain a line break, so that one row is always one line.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import IO, Literal

from ncctl.errors import DataError

AUDIT_COLUMNS: tuple[str, ...] = (
    "Sending Timestamps",  # 1  tag 5297 SendingTimeEpoch
    "Message Direction",  # 2  TO CME / FROM CME
    "Operator ID",  # 3  tag 5392 SenderID
    "Session ID",  # 4
    "Manual Order Indicator",  # 5  tag 1028
    "Message Type",  # 6
    "Instrument",  # 7  tag 48 SecurityID
    "Order Flow ID",  # 8  unique per order within the file
    "CME Globex Order ID",  # 9  tag 37 OrderID
    "Client Order ID",  # 10 tag 11 ClOrdID
    "Order Request ID",  # 11 tag 2422
    "Buy/Sell Indicator",  # 12 tag 54 Side
    "Quantity",  # 13 tag 38 OrderQty
    "Limit Price",  # 14 tag 44 Price
    "Stop Price",  # 15 tag 99 StopPx
    "Order Type",  # 16 tag 40 OrdType
    "Order Qualifier",  # 17 tag 59 TimeInForce
    "IFM Flag",  # 18 tag 9768 OFMOverride (in-flight mitigation)
    "Display Quantity",  # 19 tag 1138
    "Minimum Quantity",  # 20 tag 110
    "Country of Origin",  # 21 tag 9537 Location
    "Fill Price",  # 22 tag 31 LastPx
    "Fill Quantity",  # 23 tag 32 LastQty
    "Cumulative Quantity",  # 24 tag 14 CumQty
    "Remaining Quantity",  # 25 tag 151 LeavesQty
    "Aggressor Flag",  # 26 tag 1057 AggressorIndicator
    "Source of Cancellation",  # 27 tag 378 ExecRestatementReason
    "Reject Reason",  # 28 tag 103 / 58 / 380--379
    "CME Globex Message ID",  # 29 fills: tag 1506 SideTradeID; other reports: tag 17 ExecID
    "Cross ID",  # 30 tag 548
    "Quote Request ID",  # 31 tag 131
    "Message Quote ID",  # 32 tag 117
    "Quote Set ID",  # 33 tag 302
    "Quote Entry ID",  # 34 tag 299
    "Bid Price",  # 35 tag 132
    "Bid Size",  # 36 tag 134
    "Offer Price",  # 37 tag 133
    "Offer Size",  # 38 tag 135
    "Processed Entries",  # 39
    "Party Details List Request ID",  # 40 tag 1505
    "List Update Action",  # 41 tag 1324
    "Self-Match Prevention ID",  # 42 tag 2362
    "Self-Match Prevention Instruction",  # 43 tag 8000
    "Customer Type Indicator",  # 44 tag 582 CustOrderCapacity
    "Average Price Group ID",  # 45 tag 1731
    "Average Price Indicator",  # 46 tag 819
    "CMTA Give Up Code",  # 47 tag 9708
    "Origin",  # 48 tag 1816 ClearingAccountType
    "Clearing Trade Price Type",  # 49 tag 1598
    "Customer Handling Instruction",  # 50 tag 1031
    "Executing Firm ID",  # 51 PartyDetailRole 1
    "Account Number",  # 52 PartyDetailRole 24
    "Take Up Firm",  # 53 PartyDetailRole 96
    "Take Up Account",  # 54 PartyDetailRole 1000
)

Direction = Literal["TO CME", "FROM CME"]
TO_CME: Direction = "TO CME"
FROM_CME: Direction = "FROM CME"

#: FIX MsgType of the iLink 3 messages that are not execution reports, by SBE template id.
MESSAGE_TYPES: dict[int, str] = {
    514: "D",  # NewOrderSingle
    515: "G",  # OrderCancelReplaceRequest
    516: "F",  # OrderCancelRequest
    518: "CX",  # PartyDetailsDefinitionRequest
    519: "CY",  # PartyDetailsDefinitionRequestAck
    521: "j",  # BusinessReject
    535: "9",  # OrderCancelReject
    536: "9",  # OrderCancelReplaceReject
    537: "CF",  # PartyDetailsListRequest
    538: "CG",  # PartyDetailsListReport
}

TIMESTAMP_RE = re.compile(r"^\d{8}-\d{2}:\d{2}:\d{2}\.\d{3}$")
_OPERATOR_RE = re.compile(r"^[A-Za-z0-9_\-:@.+]{1,18}$")
_LINE_BREAK = re.compile(r"[\r\n]")

Cell = str | int | Decimal | None


def format_utc(ts: dt.datetime) -> str:
    """``YYYYMMDD-hh:mm:ss.sss`` in UTC, milliseconds truncated; ``ts`` must be aware."""
    if ts.tzinfo is None or ts.utcoffset() is None:
        raise ValueError("an audit-trail timestamp needs an aware datetime")
    u = ts.astimezone(dt.UTC)
    return f"{u:%Y%m%d-%H:%M:%S}.{u.microsecond // 1000:03d}"


def parse_utc(text: str) -> dt.datetime:
    """The aware UTC instant of a ``YYYYMMDD-hh:mm:ss.sss`` stamp (ValueError if malformed)."""
    if not TIMESTAMP_RE.match(text):
        raise ValueError(f"{text!r} is not a YYYYMMDD-hh:mm:ss.sss timestamp")
    return dt.datetime.strptime(text + "000", "%Y%m%d-%H:%M:%S.%f").replace(tzinfo=dt.UTC)


def execution_report_type(ord_status: str) -> str:
    """The Message Type cell of an execution report: ``8--`` and its OrdStatus (tag 39)."""
    return f"8--{ord_status}"


def _cell(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):  # a bool is an int: write CME's 0/1, not True/False
        return "1" if value else "0"
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditRow:
    """One message to or from CME, as one audit-trail row (fields in column order).

    Only the first two fields are required; every other cell is empty unless given. A
    cell is text, an integer or a Decimal (prices); ``True``/``False`` are written 1/0.
    """

    sending_timestamp: dt.datetime
    direction: Direction
    operator_id: Cell = None
    session_id: Cell = None
    manual_order_indicator: Cell = None
    message_type: Cell = None
    instrument: Cell = None
    order_flow_id: Cell = None
    globex_order_id: Cell = None
    client_order_id: Cell = None
    order_request_id: Cell = None
    side: Cell = None
    quantity: Cell = None
    limit_price: Cell = None
    stop_price: Cell = None
    order_type: Cell = None
    order_qualifier: Cell = None
    ifm_flag: Cell = None
    display_quantity: Cell = None
    minimum_quantity: Cell = None
    country_of_origin: Cell = None
    fill_price: Cell = None
    fill_quantity: Cell = None
    cumulative_quantity: Cell = None
    remaining_quantity: Cell = None
    aggressor_flag: Cell = None
    source_of_cancellation: Cell = None
    reject_reason: Cell = None
    globex_message_id: Cell = None
    cross_id: Cell = None
    quote_request_id: Cell = None
    message_quote_id: Cell = None
    quote_set_id: Cell = None
    quote_entry_id: Cell = None
    bid_price: Cell = None
    bid_size: Cell = None
    offer_price: Cell = None
    offer_size: Cell = None
    processed_entries: Cell = None
    party_details_list_request_id: Cell = None
    list_update_action: Cell = None
    self_match_prevention_id: Cell = None
    self_match_prevention_instruction: Cell = None
    customer_type_indicator: Cell = None
    average_price_group_id: Cell = None
    average_price_indicator: Cell = None
    cmta_give_up_code: Cell = None
    origin: Cell = None
    clearing_trade_price_type: Cell = None
    customer_handling_instruction: Cell = None
    executing_firm_id: Cell = None
    account_number: Cell = None
    take_up_firm: Cell = None
    take_up_account: Cell = None

    def __post_init__(self) -> None:
        if self.direction not in (TO_CME, FROM_CME):
            raise ValueError(f"direction must be {TO_CME!r} or {FROM_CME!r}")
        if self.sending_timestamp.tzinfo is None:
            raise ValueError("sending_timestamp needs an aware datetime")
        operator = _cell(self.operator_id)
        if operator and not _OPERATOR_RE.match(operator):
            raise ValueError(f"operator_id {operator!r}: at most 18 letters, digits or _ - : @ . +")

    def cells(self) -> list[str]:
        """The row's cells as text, in :data:`AUDIT_COLUMNS` order."""
        out = [format_utc(self.sending_timestamp), self.direction]
        for f in _FIELDS[2:]:
            text = _cell(getattr(self, f.name))
            if _LINE_BREAK.search(text):
                raise ValueError(f"{f.name}: an audit-trail cell cannot hold a line break")
            out.append(text)
        return out


_FIELDS = dataclasses.fields(AuditRow)
if len(_FIELDS) != len(AUDIT_COLUMNS):  # pragma: no cover - a programming error
    raise AssertionError("AuditRow fields and AUDIT_COLUMNS disagree")


def _csv_line(cells: list[str] | tuple[str, ...]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(cells)
    return buf.getvalue()


def header_line() -> str:
    """The header line of an audit-trail file (with its line end)."""
    return _csv_line(AUDIT_COLUMNS)


def format_row(row: AuditRow) -> str:
    """One row as one CSV line (with its line end)."""
    return _csv_line(row.cells())


class AuditTrailWriter:
    """Appends rows to one audit-trail file, each row whole and flushed.

    :meth:`open` creates the file with its header line, or appends to an existing one after
    checking that its header is this format's (a file in another layout is never mixed
    with rows of this one: :class:`DataError`). A file whose last line was cut short by a
    crash gets a line break first, so that the cut line stays alone and visible.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh: IO[str] | None = None

    @property
    def is_open(self) -> bool:
        return self._fh is not None

    def open(self) -> AuditTrailWriter:
        if self._fh is not None:
            return self
        from ncctl import floor

        fd = floor.open_fd(
            self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, what="audit trail", trusted_dir=False
        )
        fh = os.fdopen(fd, "a", encoding="utf-8", newline="")
        try:
            size = os.fstat(fh.fileno()).st_size
            if size == 0:
                fh.write(header_line())
            elif not self._check_existing(size):
                fh.write("\n")
            fh.flush()
        except BaseException:
            fh.close()
            raise
        self._fh = fh
        return self

    def _check_existing(self, size: int) -> bool:
        """Check the header of a non-empty file; True when it ends with a line break."""
        with self.path.open("rb") as raw:
            first = raw.readline().decode("utf-8", errors="replace").rstrip("\r\n")
            raw.seek(size - 1)
            last_byte = raw.read(1)
        found = next(csv.reader([first]), [])
        if tuple(found) != AUDIT_COLUMNS:
            raise DataError(
                f"{self.path}: not an iLink 3 audit trail in this column layout "
                f"(first line has {len(found)} columns, expected {len(AUDIT_COLUMNS)})",
                hint="rotate the file away before writing new rows to this path",
                code="audit.header_mismatch",
            )
        return last_byte == b"\n"

    def write(self, row: AuditRow) -> None:
        """Append one row in a single write, then flush it to the operating system."""
        if self._fh is None:
            raise RuntimeError(f"{self.path}: the audit-trail writer is not open")
        self._fh.write(format_row(row))
        self._fh.flush()

    def sync(self) -> None:
        """Flush and fsync: the rows written so far survive a power loss."""
        if self._fh is not None:
            self._fh.flush()
            os.fsync(self._fh.fileno())

    def close(self, sync: bool = True) -> None:
        if self._fh is None:
            return
        fh, self._fh = self._fh, None
        try:
            fh.flush()
            if sync:
                os.fsync(fh.fileno())
        finally:
            fh.close()

    def __enter__(self) -> AuditTrailWriter:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_rows(path: Path) -> Iterator[dict[str, str]]:
    """The rows of an audit-trail file as column -> text, checking its header.

    Raises :class:`DataError` naming the file and line when the header is not
    :data:`AUDIT_COLUMNS` or a row has the wrong number of cells.
    """
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header is None or tuple(header) != AUDIT_COLUMNS:
            raise DataError(
                f"{path}: line 1 is not the iLink 3 audit-trail header",
                hint="is this an audit-trail file of this format?",
                code="audit.header_mismatch",
            )
        for cells in reader:
            if len(cells) != len(AUDIT_COLUMNS):
                raise DataError(
                    f"{path}: line {reader.line_num} has {len(cells)} cells, "
                    f"expected {len(AUDIT_COLUMNS)}",
                    hint="the file was cut short or edited by hand",
                    code="audit.bad_row",
                )
            yield dict(zip(AUDIT_COLUMNS, cells, strict=True))
