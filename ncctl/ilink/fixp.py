"""A FIXP client session over TCP, as iLink 3 runs it.

Life of a session::

    connect (TCP, connect_timeout_s)
    Negotiate 500 (signed)     -> NegotiationResponse 501 | NegotiationReject 502
    Establish 503 (signed)     -> EstablishmentAck 504    | EstablishmentReject 505
    application messages, each with the next SeqNum (1, 2, ...); the gateway's carry its own
    Sequence 506 from us when we were silent for the keepalive interval; 506 from the
    gateway is a heartbeat
    Terminate 507              -> Terminate 507, then the connection closes

Negotiate happens once per UUID (microseconds since the epoch, from the machine's clock).
After a lost connection, :meth:`FixpClient.connect` again re-establishes the same UUID with
the next sequence number (FIXP's recoverable flow); the gateway's EstablishmentAck says which
sequence number it sends next, so a message it sent while we were away shows as a gap
(counted in :attr:`FixpClient.gaps`; ncctl does not ask for retransmission: the party layer
reconciles with a list request instead).

The signed Negotiate and Establish come from :mod:`ncctl.ilink.fixp_signatures`.

Every message sent or received is passed to an ``observer`` (the party layer writes the
audit trail from it) with the time it was sent or read. Nothing here prints or logs, and no
error quotes the secret.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import select
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from ncctl.clock import Clock
from ncctl.ilink import reject_codes, sbe
from ncctl.ilink.credentials import Credentials
from ncctl.ilink.errors import (
    ConnectionLostError,
    EstablishmentRejectedError,
    GatewayUnavailableError,
    NegotiationRejectedError,
    ProtocolError,
    ResponseTimeoutError,
    SbeError,
    TerminatedError,
)
from ncctl.ilink.fixp_signatures import establish_message, negotiate_message

TO_CME = "TO CME"
FROM_CME = "FROM CME"
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

M = TypeVar("M", bound=sbe.Message)


def epoch_ns(ts: dt.datetime) -> int:
    """Nanoseconds since 1970-01-01 UTC of an aware datetime (exact, no float)."""
    if ts.tzinfo is None:
        raise ValueError("epoch_ns needs an aware datetime")
    return ((ts - _EPOCH) // dt.timedelta(microseconds=1)) * 1000


def from_epoch_ns(ns: int) -> dt.datetime:
    """The aware UTC datetime of nanoseconds since the epoch (microsecond precision)."""
    return _EPOCH + dt.timedelta(microseconds=ns // 1000)


# -- the client -------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionParams:
    """Where the gateway is and who we are."""

    host: str
    port: int
    session: str
    firm: str
    trading_system_name: str = "ncctl"
    trading_system_version: str = "0.1"
    trading_system_vendor: str = "ncctl"
    keepalive_ms: int = 30000
    connect_timeout_s: float = 5.0
    response_timeout_s: float = 5.0


@dataclass(frozen=True)
class Established:
    """What the gateway said when the session came up."""

    uuid: int
    negotiated: bool
    next_seq_no: int
    keepalive_ms: int
    secret_expires_in_days: int | None


Observer = Callable[[str, sbe.Message, dt.datetime], None]


def _no_observer(direction: str, message: sbe.Message, at: dt.datetime) -> None:
    return None


def wire_time_ns() -> int:
    """Nanoseconds since the epoch by the machine's clock: the only time put on the wire.

    RequestTimestamp, SendingTimeEpoch and the UUID never come from the session's
    :class:`Clock`: CME checks timestamps against real time (a Negotiate older than 5 s is
    stale), and a UUID must grow from one run to the next, which a simulated clock (``--clock``,
    ``$NCCTL_CLOCK_FILE``) would not guarantee.
    """
    return time.time_ns()


def _machine_microseconds() -> int:
    """CME's recommended UUID: microseconds since the epoch, from the machine's clock."""
    return wire_time_ns() // 1000


class FixpClient:
    """One FIXP client session (a UUID) over one TCP connection at a time."""

    def __init__(
        self,
        params: SessionParams,
        credentials: Credentials,
        *,
        clock: Clock,
        observer: Observer | None = None,
        uuid_source: Callable[[], int] | None = None,
    ) -> None:
        self.params = params
        self.credentials = credentials
        self.clock = clock
        self.observer = observer or _no_observer
        self._uuid_source = uuid_source or _machine_microseconds
        self.uuid: int | None = None
        self.next_seq_no = 1
        """The SeqNum of our next application message."""
        self.expected_seq_no = 1
        """The SeqNum we expect on the gateway's next application message."""
        self.gaps = 0
        self.secret_expires_in_days: int | None = None
        self.keepalive_ms = params.keepalive_ms
        self._sock: socket.socket | None = None
        self._established = False
        self._reader = sbe.FrameReader()
        self._last_sent = time.monotonic()
        self._last_uuid = 0

    # -- connection -----------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._sock is not None

    def connect(self) -> Established:
        """Open the connection, Negotiate (first time only) and Establish."""
        self.close()
        p = self.params
        try:
            sock = socket.create_connection((p.host, p.port), timeout=p.connect_timeout_s)
        except TimeoutError:
            raise GatewayUnavailableError(
                f"iLink gateway {p.host}:{p.port}: no connection within {p.connect_timeout_s:g} s",
                hint="check ilink.host and ilink.port, and that the gateway is reachable",
            ) from None
        except OSError as exc:
            raise GatewayUnavailableError(
                f"iLink gateway {p.host}:{p.port}: cannot connect: {exc.strerror or exc}",
                hint="check ilink.host and ilink.port, and that the gateway is up (in a dev "
                "setup, `ncctl dev up` starts the gateway simulator)",
            ) from None
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock = sock
        self._reader = sbe.FrameReader()
        try:
            negotiated = False
            if self.uuid is None:
                self._negotiate()
                negotiated = True
            ack = self._establish()
        except BaseException:
            self.close()
            raise
        assert self.uuid is not None
        return Established(
            self.uuid, negotiated, ack.next_seq_no, self.keepalive_ms, self.secret_expires_in_days
        )

    def _new_uuid(self) -> int:
        uuid = max(self._uuid_source(), self._last_uuid + 1)
        self._last_uuid = uuid
        return uuid

    def _negotiate(self) -> None:
        p = self.params
        uuid = self._new_uuid()
        stamp = wire_time_ns()
        self._send(
            negotiate_message(
                self.credentials, uuid=uuid, request_timestamp=stamp, session=p.session, firm=p.firm
            )
        )
        reply = self._read_session_reply("Negotiate")
        if isinstance(reply, sbe.NegotiationReject502):
            meaning, hint = reject_codes.explain("negotiation_reject", reply.error_codes)
            self.close()
            raise NegotiationRejectedError(
                f"iLink negotiation rejected by {p.host}:{p.port} for session {p.session} "
                f"firm {p.firm}: {reply.reason or meaning} (code {reply.error_codes}: "
                f"{meaning})",
                hint=hint,
            )
        if not isinstance(reply, sbe.NegotiationResponse501):
            raise self._unexpected(reply, "NegotiationResponse")
        if reply.uuid != uuid:
            raise ProtocolError(f"NegotiationResponse for UUID {reply.uuid}, we sent {uuid}")
        self.uuid = uuid
        self.next_seq_no = 1
        self.expected_seq_no = 1
        if reply.secret_key_secure_id_expiration is not None:
            self.secret_expires_in_days = reply.secret_key_secure_id_expiration

    def _establish(self) -> sbe.EstablishmentAck504:
        p = self.params
        assert self.uuid is not None
        stamp = wire_time_ns()
        self._send(
            establish_message(
                self.credentials,
                uuid=self.uuid,
                request_timestamp=stamp,
                session=p.session,
                firm=p.firm,
                trading_system_name=p.trading_system_name,
                trading_system_version=p.trading_system_version,
                trading_system_vendor=p.trading_system_vendor,
                next_seq_no=self.next_seq_no,
                keep_alive_interval=p.keepalive_ms,
            )
        )
        reply = self._read_session_reply("Establish")
        if isinstance(reply, sbe.EstablishmentReject505):
            meaning, hint = reject_codes.explain("establishment_reject", reply.error_codes)
            self.close()
            raise EstablishmentRejectedError(
                f"iLink establishment rejected by {p.host}:{p.port}: "
                f"{reply.reason or meaning} (code {reply.error_codes}: {meaning})",
                hint=hint,
            )
        if not isinstance(reply, sbe.EstablishmentAck504):
            raise self._unexpected(reply, "EstablishmentAck")
        if reply.uuid != self.uuid:
            raise ProtocolError(f"EstablishmentAck for UUID {reply.uuid}, ours is {self.uuid}")
        if reply.next_seq_no > self.expected_seq_no:
            self.gaps += reply.next_seq_no - self.expected_seq_no
        self.expected_seq_no = reply.next_seq_no
        self.keepalive_ms = reply.keep_alive_interval or self.keepalive_ms
        if reply.secret_key_secure_id_expiration is not None:
            self.secret_expires_in_days = reply.secret_key_secure_id_expiration
        self._established = True
        return reply

    def _read_session_reply(self, what: str) -> sbe.Message:
        deadline = time.monotonic() + self.params.response_timeout_s
        while True:
            msg = self._read(deadline, f"answer to {what}")
            if isinstance(msg, sbe.Sequence506):
                continue
            if isinstance(msg, sbe.Terminate507):
                self._terminated(msg)
            return msg

    def _unexpected(self, msg: sbe.Message, wanted: str) -> ProtocolError:
        self.close()
        return ProtocolError(
            f"iLink gateway sent {msg.name} ({msg.template_id}) where {wanted} was due",
            hint="the gateway does not follow the FIXP session protocol as expected",
        )

    def _terminated(self, msg: sbe.Terminate507) -> None:
        self.close()
        if msg.error_codes in reject_codes.TERMINATE_RENEGOTIATE:
            self.uuid = None  # the gateway does not know our UUID (any more): start afresh
        meaning, hint = reject_codes.explain("terminate", msg.error_codes)
        raise TerminatedError(
            f"iLink gateway terminated the session: {msg.reason or meaning} "
            f"(code {msg.error_codes}: {meaning})",
            hint=hint,
        )

    # -- application messages -----------------------------------------------------------

    def send(self, build: Callable[[int, int], M]) -> M:
        """Send the message ``build(seq_num, sending_time_ns)`` returns, as the next one."""
        if self._sock is None:
            raise ConnectionLostError("iLink session is not connected", hint="connect first")
        msg = build(self.next_seq_no, wire_time_ns())
        self._send(msg)
        self.next_seq_no += 1
        return msg

    def receive(self, timeout_s: float | None = None, what: str = "an answer") -> sbe.Message:
        """The gateway's next application message (519, 521, 538...), within the timeout.

        Heartbeats (506) are absorbed; a Terminate (507) raises :class:`TerminatedError`.
        """
        wait = self.params.response_timeout_s if timeout_s is None else timeout_s
        deadline = time.monotonic() + wait
        while True:
            msg = self._read(deadline, what)
            if isinstance(msg, sbe.Sequence506):
                if msg.next_seq_no > self.expected_seq_no:
                    self.gaps += msg.next_seq_no - self.expected_seq_no
                    self.expected_seq_no = msg.next_seq_no
                continue
            if isinstance(msg, sbe.Terminate507):
                self._terminated(msg)
            seq = getattr(msg, "seq_num", None)
            if isinstance(seq, int):
                if seq < self.expected_seq_no:
                    if getattr(msg, "poss_retrans_flag", 0) == 1:
                        continue
                    raise ProtocolError(
                        f"iLink gateway sent {msg.name} with SeqNum {seq}, expected "
                        f"{self.expected_seq_no} or more"
                    )
                if seq > self.expected_seq_no:
                    self.gaps += seq - self.expected_seq_no
                self.expected_seq_no = seq + 1
            return msg

    def terminate(self, reason: str = "finished", error_code: int = 0) -> None:
        """Send Terminate, wait (bounded) for the gateway's, and close. Never raises."""
        if self._sock is None or self.uuid is None:
            self.close()
            return
        with contextlib.suppress(Exception):
            self._send(
                sbe.Terminate507(
                    reason=reason[:48],
                    uuid=self.uuid,
                    request_timestamp=wire_time_ns(),
                    error_codes=error_code,
                    split_msg=None,
                )
            )
            deadline = time.monotonic() + min(self.params.response_timeout_s, 2.0)
            while True:
                if isinstance(self._read(deadline, "Terminate"), sbe.Terminate507):
                    break
        self.close()

    def close(self) -> None:
        self._established = False
        if self._sock is not None:
            sock, self._sock = self._sock, None
            with contextlib.suppress(OSError):
                sock.close()

    def __enter__(self) -> FixpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- bytes ------------------------------------------------------------------------

    def _send(self, msg: sbe.Message) -> None:
        if self._sock is None:
            raise ConnectionLostError("iLink session is not connected")
        frame = sbe.encode(msg)
        at = self.clock.now()
        try:
            self._sock.settimeout(self.params.response_timeout_s)
            self._sock.sendall(frame)
        except OSError as exc:
            self.close()
            raise ConnectionLostError(
                f"iLink gateway {self.params.host}:{self.params.port}: connection lost while "
                f"sending {msg.name}: {exc.strerror or exc}",
                hint="retry; the gateway closed the connection",
            ) from None
        self._last_sent = time.monotonic()
        self.observer(TO_CME, msg, at)

    def _read(self, deadline: float, what: str) -> sbe.Message:
        """The next frame of any kind, sending keepalives while waiting."""
        while True:
            msg = self._next_message()
            if msg is not None:
                self.observer(FROM_CME, msg, self.clock.now())
                return msg
            sock = self._sock
            if sock is None:
                raise ConnectionLostError(f"iLink session closed while waiting for {what}")
            now = time.monotonic()
            if now >= deadline:
                raise ResponseTimeoutError(
                    f"iLink gateway {self.params.host}:{self.params.port}: no {what} within "
                    f"{self.params.response_timeout_s:g} s",
                    hint="the gateway is slow or stuck; retry, or raise ilink.response_timeout_s",
                )
            # keepalives only in an established session (never before EstablishmentAck)
            keepalive_due = (
                self._last_sent + self.keepalive_ms / 1000 if self._established else deadline
            )
            if self._established and self.uuid is not None and now >= keepalive_due:
                self._send(
                    sbe.Sequence506(
                        uuid=self.uuid,
                        next_seq_no=self.next_seq_no,
                        fault_tolerance_indicator=None,
                        keep_alive_interval_lapsed=0,
                    )
                )
                continue
            wait = min(deadline, keepalive_due) - now
            ready, _, _ = select.select([sock], [], [], max(wait, 0.0))
            if not ready:
                continue
            try:
                data = sock.recv(65536)
            except OSError as exc:
                self.close()
                raise ConnectionLostError(
                    f"iLink gateway {self.params.host}:{self.params.port}: connection lost "
                    f"waiting for {what}: {exc.strerror or exc}",
                    hint="retry; the gateway closed the connection",
                ) from None
            if not data:
                self.close()
                raise ConnectionLostError(
                    f"iLink gateway {self.params.host}:{self.params.port} closed the "
                    f"connection while we waited for {what}",
                    hint="retry; registrations already confirmed are kept",
                )
            self._reader.feed(data)

    def _next_message(self) -> sbe.Message | None:
        try:
            frame = self._reader.next_frame()
            return None if frame is None else sbe.decode(frame)
        except SbeError as exc:
            self.close()
            raise ProtocolError(
                f"iLink gateway sent a frame ncctl cannot decode: {exc.message}",
                hint="the gateway's framing or schema is not what ncctl speaks (SOFH + SBE, "
                f"schema {sbe.SCHEMA_ID} version {sbe.SCHEMA_VERSION})",
            ) from None
