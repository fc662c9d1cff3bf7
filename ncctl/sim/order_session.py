"""iLink 3 order-session simulator: writes the audit trail, trade log and ION files of a
session that trades without end.

``python -m ncctl.sim.order_session --audit-file PATH --trade-file PATH --ion-file PATH
[--ready-file PATH] [--rate ROWS_PER_S] [--max-rows N] [--session ID] [--firm ID]
[--operator ID] [--gateway HOST:PORT [--secret-env NAME --access-key-id ID]
[--keepalive-ms MS] [--retry-max-s S]]``

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

The FIXP session (optional). With ``--gateway HOST:PORT``, or ``$NCCTL_GATEWAY`` set to
``HOST:PORT`` (``ncctl demo`` sets it to its gateway simulator), the simulator also holds a
real iLink 3 session with that gateway (:mod:`ncctl.sim.cme_gateway` in development), on a
background thread so that the traffic and the signals never wait for it:

* it negotiates (500/501) and establishes (503/504) with the client of
  :mod:`ncctl.ilink.fixp`, as TradingSystemName :data:`TRADING_SYSTEM_NAME` (so that the
  gateway can tell this session from ``ncctl party``'s), then keeps the session alive with
  Sequence (506) keepalives at the negotiated interval (``--keepalive-ms``, else 30000);
  it sends no application message;
* credentials: ``--secret-env NAME`` (the base64url secret in that variable) with
  ``--access-key-id``, or else ``$NCCTL_GATEWAY_SECRET`` with
  ``$NCCTL_GATEWAY_ACCESS_KEY_ID`` (ncctl sets both for the components of a development
  configuration, from its ``[ilink]``); the secret is never logged. The session and firm
  are ``--session``/``--firm``, else SIM/SIM01 (also the traffic's Session ID);
* every session message sent or received becomes an audit-trail row (same writer, same
  rules across SIGHUP as the traffic's rows): Message Type is the message name
  (``Negotiate``, ``EstablishmentAck``, ``Sequence``, ``Terminate``...), and these rows
  carry no sequence number of the traffic (:func:`is_session_row`);
* session events (established, keepalives, lost, retries, terminated) are logged on
  standard output (a secret expiring within 14 days on standard error);
* an absent gateway, a refused connection, a dropped one, a reject or a Terminate from the
  gateway never stop the simulator: it keeps writing its traffic and tries again after
  0.5 s, 1 s, 2 s... up to ``--retry-max-s`` (10 s), re-establishing the same UUID when
  the gateway still knows it (a new one otherwise);
* SIGTERM/SIGINT (or ``--max-rows``): Terminate (507) is sent and the gateway's Terminate
  awaited for at most 0.5 s, then the files are closed and the status is 0 as without a
  gateway; the session never holds the exit up by more than about a second.

UUIDs and RequestTimestamps come from the machine's clock, never from the simulated clock
of ``$NCCTL_CLOCK_FILE``: CME checks them against real time and a UUID must grow from one
run to the next. Exit status 78 when the credentials cannot be read, before anything is
written.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import IO, TYPE_CHECKING

from ncctl.clock import Clock, SystemClock
from ncctl.errors import DataError, NcctlError, TemporaryError
from ncctl.ilink.audit_trail import (
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
from ncctl.sim import SignalWatch, count, log, number_arg, positive, write_atomic_text
from ncctl.sim_interface import (
    GATEWAY_ACCESS_KEY_ENV,
    GATEWAY_ENV,
    GATEWAY_SECRET_ENV,
    TRADING_SYSTEM_NAME,
)

KEEPALIVE_MS = number_arg(int, low=1000, high=60000, what="whole number of milliseconds")

if TYPE_CHECKING:
    import datetime as dt

    from ncctl.ilink import fixp, sbe
    from ncctl.ilink.credentials import Credentials

PROG = "order_session"
EXIT_DATAERR = 65
EXIT_CANTCREAT = 73
#: the Message Type of the FIXP session-layer rows in the audit trail
SESSION_MESSAGE_TYPES = frozenset(
    {
        "Negotiate",
        "NegotiationResponse",
        "NegotiationReject",
        "Establish",
        "EstablishmentAck",
        "EstablishmentReject",
        "Sequence",
        "Terminate",
    }
)
RETRY_FIRST_S = 0.5
DEFAULT_RETRY_MAX_S = 10.0
#: how often the session thread looks for a stop request while the session is up
_POLL_S = 0.1
#: how long to wait for the gateway's Terminate after ours
_TERMINATE_WAIT_S = 0.5
#: how long the exit waits for the session thread
_STOP_WAIT_S = 1.0
#: a failure repeated is logged again only after this long
_REPEAT_LOG_S = 60.0

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


def is_session_row(row: Mapping[str, str]) -> bool:
    """Whether an audit-trail row is a FIXP session-layer message (Negotiate, Sequence...)."""
    return row["Message Type"] in SESSION_MESSAGE_TYPES


def audit_row_seq(row: Mapping[str, str]) -> int:
    """The simulator's sequence number of an audit-trail row (see the module docstring).

    A session-layer row (:func:`is_session_row`) has none: ValueError.
    """
    if is_session_row(row):
        raise ValueError(f"a {row['Message Type']} row carries no sequence number")
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


def gateway_address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[V6ADDR]:PORT`` too) as (host, port); ArgumentTypeError otherwise."""
    host, sep, port_text = text.strip().rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not sep or not host:
        raise argparse.ArgumentTypeError(f"{text!r} is not HOST:PORT")
    try:
        port = int(port_text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: {port_text!r} is not a port number") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r}: the port must be 1 to 65535")
    return host, port


def _fixp_id(value: str, length: int) -> bool:
    return 1 <= len(value) <= length and value.isascii() and value.isprintable()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m ncctl.sim.order_session",
        description="Simulated iLink 3 session: writes audit-trail, trade-log and ION files; "
        "optionally holds a FIXP session with a gateway.",
    )
    parser.add_argument("--audit-file", type=Path, required=True, help="audit trail (CSV)")
    parser.add_argument("--trade-file", type=Path, required=True, help="trade log")
    parser.add_argument("--ion-file", type=Path, required=True, help="ION message log")
    parser.add_argument("--ready-file", type=Path, default=None, help="written once ready")
    parser.add_argument(
        "--rate", type=positive, default=2.0, help="messages (audit rows) per second"
    )
    parser.add_argument("--max-rows", type=count, default=None, help="stop after N rows")
    parser.add_argument("--session", default="SIM", help="iLink session id (default SIM)")
    parser.add_argument("--firm", default="SIM01", help="executing firm id (default SIM01)")
    parser.add_argument(
        "--operator", default="NCCTL-SIM", help="operator id, tag 5392 (default NCCTL-SIM)"
    )
    gateway = parser.add_argument_group("FIXP session with a gateway")
    gateway.add_argument(
        "--gateway",
        type=gateway_address,
        default=None,
        metavar="HOST:PORT",
        help=f"hold a FIXP session with this gateway (default ${GATEWAY_ENV}; none if unset)",
    )
    gateway.add_argument(
        "--secret-env",
        metavar="NAME",
        default=None,
        help=f"variable holding the secret (default {GATEWAY_SECRET_ENV}, with the access key "
        f"id in {GATEWAY_ACCESS_KEY_ENV})",
    )
    gateway.add_argument("--access-key-id", default=None, help="access key id (with --secret-env)")
    gateway.add_argument(
        "--keepalive-ms",
        type=KEEPALIVE_MS,
        default=None,
        help="keepalive interval asked for (default 30000)",
    )
    gateway.add_argument(
        "--retry-max-s",
        type=positive,
        default=DEFAULT_RETRY_MAX_S,
        help=f"longest wait between connection attempts (default {DEFAULT_RETRY_MAX_S:g})",
    )
    args = parser.parse_args(argv)
    try:
        AuditRow(sending_timestamp=SystemClock().now(), direction=TO_CME, operator_id=args.operator)
    except ValueError as exc:
        parser.error(f"--operator: {exc}")
    if args.gateway is None and os.environ.get(GATEWAY_ENV):
        try:
            args.gateway = gateway_address(os.environ[GATEWAY_ENV])
        except argparse.ArgumentTypeError as exc:
            parser.error(f"${GATEWAY_ENV}: {exc}")
    if args.gateway is None:
        return args
    if not _fixp_id(args.session, 3):
        parser.error("--session: 1 to 3 printable ASCII characters with a gateway")
    if not _fixp_id(args.firm, 5):
        parser.error("--firm: 1 to 5 printable ASCII characters with a gateway")
    if args.secret_env is not None:
        if args.access_key_id is None:
            parser.error("--secret-env needs --access-key-id")
        if not _fixp_id(args.access_key_id, 20):
            parser.error("--access-key-id: 1 to 20 printable ASCII characters")
    elif args.access_key_id is not None:
        parser.error(f"--access-key-id goes with --secret-env (else ${GATEWAY_SECRET_ENV})")
    return args


# -- the FIXP session with a gateway ------------------------------------------------------------


@dataclass(frozen=True)
class GatewaySettings:
    """Where the gateway is, who the session is, and how to retry."""

    params: fixp.SessionParams
    credentials: Credentials
    source: str
    """Where the credentials came from (never the secret itself)."""
    retry_max_s: float = DEFAULT_RETRY_MAX_S
    expiry_warn_days: int = 14


def gateway_settings(args: argparse.Namespace) -> GatewaySettings | None:
    """The session settings of ``args`` (None without a gateway). NcctlError when the
    credentials cannot be read."""
    if args.gateway is None:
        return None
    from ncctl.ilink import fixp
    from ncctl.ilink.credentials import Credentials, decode_secret
    from ncctl.ilink.errors import CredentialsError

    if args.secret_env is not None:
        secret_env, access_key_id, given = args.secret_env, args.access_key_id, "--secret-env"
    else:
        secret_env, access_key_id = GATEWAY_SECRET_ENV, os.environ.get(GATEWAY_ACCESS_KEY_ENV, "")
        given = "no --secret-env given"
        if not _fixp_id(access_key_id, 20):
            raise CredentialsError(
                f"no iLink credentials for the gateway: no --secret-env, and "
                f"${GATEWAY_ACCESS_KEY_ENV} is not 1 to 20 printable ASCII characters",
                hint="pass --secret-env NAME --access-key-id ID (ncctl sets "
                f"${GATEWAY_SECRET_ENV} and ${GATEWAY_ACCESS_KEY_ENV} for a dev configuration)",
            )
    value = os.environ.get(secret_env)
    if value is None:
        raise CredentialsError(
            f"${secret_env} is not set ({given})",
            hint="export the base64url iLink secret in that variable",
        )
    credentials = Credentials(access_key_id, decode_secret(value, f"${secret_env}"))
    host, port = args.gateway
    params = fixp.SessionParams(
        host=host,
        port=port,
        session=args.session,
        firm=args.firm,
        trading_system_name=TRADING_SYSTEM_NAME,
    )
    if args.keepalive_ms is not None:
        params = replace(params, keepalive_ms=args.keepalive_ms)
    return GatewaySettings(params, credentials, f"${secret_env}", args.retry_max_s)


class AuditSink:
    """The session's files, shared by the traffic (main thread) and the FIXP session thread.

    One lock around every write and around the SIGHUP reopen, so that a session row lands
    whole in the file current at the time, never in a file already rotated away.
    """

    def __init__(self, files: SessionFiles) -> None:
        self._files: SessionFiles | None = files
        self._lock = threading.Lock()
        self.failure: OSError | None = None
        """A write of the session thread that failed (the main loop gives up on it)."""

    def write(self, message: Message) -> None:
        with self._lock:
            assert self._files is not None
            self._files.write(message)

    def write_row(self, row: AuditRow) -> None:
        """A session row; dropped once the files are closed, recorded in :attr:`failure`."""
        with self._lock:
            if self._files is None or self.failure is not None:
                return
            try:
                self._files.audit.write(row)
            except OSError as exc:
                self.failure = exc

    def reopen(self) -> None:
        with self._lock:
            assert self._files is not None
            self._files = _reopen(self._files)

    def close(self, sync: bool = True) -> None:
        with self._lock:
            files, self._files = self._files, None
        if files is not None:
            files.close(sync=sync)


def session_row(
    direction: str, msg: sbe.Message, at: dt.datetime, *, operator: str, session: str
) -> AuditRow:
    """The audit-trail row of a FIXP session message, as ``ncctl party`` writes them: our
    own RequestTimestamp on what we send, else when it was sent or read."""
    from ncctl.ilink import fixp, sbe

    stamp_ns = getattr(msg, "request_timestamp", None) if direction == fixp.TO_CME else None
    stamp = fixp.from_epoch_ns(stamp_ns) if isinstance(stamp_ns, int) and stamp_ns else at
    reason = None
    if isinstance(msg, sbe.NegotiationReject502 | sbe.EstablishmentReject505 | sbe.Terminate507):
        reason = " ".join(f"{msg.error_codes} {msg.reason}".split())
    return AuditRow(
        sending_timestamp=stamp,
        direction=TO_CME if direction == fixp.TO_CME else FROM_CME,
        operator_id=operator,
        session_id=session,
        message_type=msg.name,
        reject_reason=reason,
    )


class GatewaySession:
    """The FIXP session on its own thread: establish, keep alive, retry, terminate.

    The thread never touches the signals; :meth:`stop` asks it to terminate and waits a
    bounded time. Every message goes through the observer into the audit trail.
    """

    def __init__(self, settings: GatewaySettings, sink: AuditSink, operator: str) -> None:
        from ncctl.ilink import fixp

        self.settings = settings
        self.sink = sink
        self.operator = operator
        p = settings.params
        self.where = f"gateway {p.host}:{p.port}"
        self.client = fixp.FixpClient(
            p, settings.credentials, clock=SystemClock(), observer=self._observe
        )
        self.establishments = 0
        self.keepalives = 0
        self._session_keepalives = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fixp-session", daemon=True)
        self._last_failure: tuple[str, float] | None = None

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = _STOP_WAIT_S) -> bool:
        """Ask for Terminate and wait up to ``timeout_s``; whether the thread has ended."""
        self._stop.set()
        self._thread.join(timeout_s)
        return not self._thread.is_alive()

    # -- the thread ---------------------------------------------------------------------

    def _observe(self, direction: str, msg: sbe.Message, at: dt.datetime) -> None:
        from ncctl.ilink import fixp, sbe

        if direction == fixp.TO_CME and isinstance(msg, sbe.Sequence506):
            self.keepalives += 1
            self._session_keepalives += 1
            if self._session_keepalives == 1:
                log(PROG, f"{self.where}: keepalive: Sequence (506) sent, more every interval")
        row = session_row(
            direction, msg, at, operator=self.operator, session=self.settings.params.session
        )
        self.sink.write_row(row)

    def _run(self) -> None:
        delay = RETRY_FIRST_S
        while not self._stop.is_set():
            try:
                up = self.client.connect()
            except Exception as exc:  # never let the session take the simulator down
                self.client.close()
                self._failed("no session", exc, delay)
                if self._stop.wait(delay):
                    break
                delay = min(delay * 2, self.settings.retry_max_s)
                continue
            self._established(up)
            delay = RETRY_FIRST_S
            try:
                self._hold()
            except Exception as exc:
                self.client.close()
                self._failed(
                    f"session lost after {self._session_keepalives} keepalive(s)", exc, delay
                )
                if self._stop.wait(delay):
                    break
                delay = min(delay * 2, self.settings.retry_max_s)
        self.client.close()

    def _established(self, up: fixp.Established) -> None:
        self.establishments += 1
        self._session_keepalives = 0
        self._last_failure = None
        p = self.settings.params
        how = "negotiated and established" if up.negotiated else "re-established"
        log(
            PROG,
            f"{self.where}: session up: UUID {up.uuid} {how} (session {p.session}, firm "
            f"{p.firm}, credentials from {self.settings.source}), keepalive {up.keepalive_ms} "
            f"ms, gateway's next SeqNum {up.next_seq_no}",
        )
        days = up.secret_expires_in_days
        if days is not None and days < self.settings.expiry_warn_days:
            log(PROG, f"{self.where}: the iLink secret expires in {days} day(s)", error=True)

    def _hold(self) -> None:
        """Keep the session up (the client sends the keepalives while it waits) until a
        stop request, then Terminate; raises when the session is lost."""
        from ncctl.ilink.errors import ResponseTimeoutError

        while not self._stop.is_set():
            try:
                msg = self.client.receive(_POLL_S, "a message")
            except ResponseTimeoutError:
                continue
            log(PROG, f"{self.where}: {msg.name} ({msg.template_id}) ignored")
        self.client.params = replace(self.client.params, response_timeout_s=_TERMINATE_WAIT_S)
        self.client.terminate("order session stopping")
        log(
            PROG,
            f"{self.where}: Terminate (507) sent, session closed after "
            f"{self._session_keepalives} keepalive(s)",
        )

    def _failed(self, what: str, exc: Exception, delay: float) -> None:
        """Log a failure, but the same one again only once a minute."""
        if isinstance(exc, TemporaryError):  # lost, timed out, terminated: retrying is all
            text = exc.message
        elif isinstance(exc, NcctlError):
            text = exc.message + (f" (hint: {exc.hint})" if exc.hint else "")
        else:
            text = f"{type(exc).__name__}: {exc}"
        now = time.monotonic()
        last = self._last_failure
        if last is not None and last[0] == text and now - last[1] < _REPEAT_LOG_S:
            return
        self._last_failure = (text, now)
        log(PROG, f"{self.where}: {what}: {text}; retrying in {delay:g} s (and on)")


# -- the run -------------------------------------------------------------------------------


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


def _stop_session(session: GatewaySession | None) -> None:
    if session is not None and not session.stop():
        log(PROG, f"{session.where}: the session did not end in time; leaving it", error=True)


def _write_ready(args: argparse.Namespace, run_id: str, gateway: GatewaySettings | None) -> None:
    ready = {
        "pid": os.getpid(),
        "session": args.session,
        "firm": args.firm,
        "run": run_id,
        "audit_file": str(args.audit_file.absolute()),
        "trade_file": str(args.trade_file.absolute()),
        "ion_file": str(args.ion_file.absolute()),
    }
    if gateway is not None:
        ready["gateway"] = f"{gateway.params.host}:{gateway.params.port}"
    args.ready_file.parent.mkdir(parents=True, exist_ok=True)
    write_atomic_text(args.ready_file, json.dumps(ready) + "\n")


@dataclass(slots=True)
class _Progress:
    written: int = 0
    reason: str = "SIGTERM"


def _pace(
    args: argparse.Namespace,
    watch: SignalWatch,
    sink: AuditSink,
    script: Iterator[Message],
    *,
    poll_s: float | None,
    progress: _Progress,
) -> None:
    """Write the traffic at ``args.rate`` until a signal or ``--max-rows``; with a FIXP
    session, look at its write failures at least every ``poll_s``."""
    period = 1.0 / args.rate
    start = time.monotonic()
    due = 0  # messages due since start
    while True:
        if watch.take(signal.SIGHUP):
            sink.reopen()
        if watch.seen(signal.SIGTERM, signal.SIGINT):
            return
        if sink.failure is not None:
            raise sink.failure
        if args.max_rows is not None and progress.written >= args.max_rows:
            progress.reason = "max rows"
            return
        delay = start + due * period - time.monotonic()
        if delay > 0:
            watch.wait(delay if poll_s is None else min(delay, poll_s))
            continue
        if delay < -_MAX_LAG_S:  # stalled (suspended?): pace from now, no burst
            start, due = time.monotonic(), 0
        sink.write(next(script))
        progress.written += 1
        due += 1


def run(
    args: argparse.Namespace,
    watch: SignalWatch,
    clock: Clock,
    gateway: GatewaySettings | None = None,
) -> int:
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
        try:
            _write_ready(args, run_id, gateway)
        except OSError as exc:
            log(PROG, f"{args.ready_file}: cannot write: {exc.strerror}", error=True)
            files.close()
            return EXIT_CANTCREAT
    sink = AuditSink(files)
    session = None
    if gateway is not None:
        session = GatewaySession(gateway, sink, args.operator)
    log(
        PROG,
        f"ready: session {args.session}, firm {args.firm}, run {run_id}, "
        f"{args.rate:g} rows/s"
        + (f", at most {args.max_rows}" if args.max_rows else "")
        + (f", FIXP session with {session.where}" if session is not None else ""),
    )
    if session is not None:
        session.start()
    progress = _Progress()
    try:
        poll_s = None if session is None else _POLL_S
        _pace(args, watch, sink, script, poll_s=poll_s, progress=progress)
    except OSError as exc:
        log(PROG, f"write failed after {progress.written} rows: {exc}", error=True)
        _stop_session(session)
        with contextlib.suppress(OSError):
            sink.close()
        return EXIT_CANTCREAT
    _stop_session(session)
    sink.close()
    log(PROG, f"stopping ({progress.reason}) after {progress.written} rows")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        gateway = gateway_settings(args)
    except NcctlError as exc:
        hint = f" (hint: {exc.hint})" if exc.hint else ""
        log(PROG, f"{exc.message}{hint}", error=True)
        return exc.exit_code
    watch = SignalWatch((signal.SIGTERM, signal.SIGINT, signal.SIGHUP))
    try:
        return run(args, watch, SystemClock(), gateway)
    finally:
        watch.close()


if __name__ == "__main__":
    sys.exit(main())
