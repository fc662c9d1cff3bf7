"""CME iLink 3 gateway simulator: the FIXP session layer and party-details registration.

``python -m ncctl.sim.cme_gateway --port P (--secret-file F | --secret-env NAME)
[--host H] [--access-key-id ID] [--session S] [--firm F] [--ready-file PATH]
[--state-file PATH] [--secret-expiry-days N] [--max-request-age-s S]
[--drop-after N] [--delay-ms MS] [--reject-negotiation CODE]``

It listens on ``--host`` (127.0.0.1 by default; ``--port 0`` picks a free port, written to
the ready file) and serves any number of connections, one FIXP session each, speaking the
codec of :mod:`ncctl.ilink.sbe`:

Reject and terminate codes are CME's, from the table of each message family
(:mod:`ncctl.ilink.reject_codes`):

* framing: every frame must have a SOFH with encoding 0xCAFE (else Terminate 18, invalid
  SOFH) and decode as schema 8 (else Terminate 19, decoding error), then the connection closes;
* Negotiate (500): NegotiationReject 0 (HMAC not authenticated) for a wrong access key id or
  signature, 10 (session blocked) for a session or firm other than the configured ones, 3
  (invalid timestamp) for a RequestTimestamp more than ``--max-request-age-s`` from this
  machine's clock (0 turns the check off); Terminate 13 (invalid UUID) for a UUID not greater
  than the session's last, Terminate 4 for a second Negotiate on a connection; answered with
  NegotiationResponse (501) carrying SecretKeySecureIDExpiration = ``--secret-expiry-days``;
* Establish (503): EstablishmentReject 0 (access key id, HMAC), 3 (stale timestamp), 11
  (KeepAliveInterval below 1000 ms); Terminate 2 (unnegotiated) for a UUID never negotiated,
  10 (invalid NextSeqNo) for a NextSeqNo lower than the next expected (a higher one is
  accepted and the gap skipped), 6 for a second Establish; answered with EstablishmentAck
  (504) giving the simulator's next SeqNum for that UUID; a UUID can be re-established on a
  new connection (recoverable flow);
* application messages (518, 537) must come after Establish (else Terminate 3, not
  established) with exactly the next SeqNum (lower: Terminate 11, invalid MsgSeqNo; higher:
  Terminate 23, other; both close the connection);
* PartyDetailsDefinitionRequest (518): a PartyDetailsListReqID already registered gets a
  BusinessReject (521) with BusinessRejectReason 108 and RefTagID 1505; a request that is not
  ``A`` (add) gets 115, one without the executing firm (role 1) or the operator (role 118) 5,
  one that repeats a role 110; otherwise it is registered and acknowledged (519, status 0
  accepted);
* PartyDetailsListRequest (537): one PartyDetailsListReport (538) per matching registration
  (the ids asked for in NoPartyIDs, else every registration of the firm), or one with
  RequestResult 2 (no data) when nothing matches;
* Sequence (506) is sent on a connection the simulator was silent on for the keepalive
  interval; Terminate (507) is answered with Terminate and the connection closed.

Registrations live as long as the process (CME keeps them for the week). Times (the
RequestTimestamp check, SendingTimeEpoch) come from the machine's clock, as at CME, even
when a simulated clock is shared through ``$NCCTL_CLOCK_FILE`` (``ncctl demo``).

Misbehaviour on request: ``--drop-after N`` closes the connection right after the N-th
message received since start (counted over all connections, once), having applied it but
without answering it; ``--delay-ms`` delays every answer; ``--reject-negotiation CODE``
answers every Negotiate with NegotiationReject CODE.

``--state-file`` is rewritten atomically (JSON) after every message, before its answer is
sent (a client holding an answer can read the state that produced it): registrations, how
many 518s arrived per id, rejected duplicates, ``wire_stamps`` (the RequestTimestamp or
SendingTimeEpoch of the last 64 messages received, with the machine's time of receipt, all in
nanoseconds since the epoch), counters (``terminates_received`` counts the
clients' Terminates) and ``establishments_by_system``, the successful Establishes per
TradingSystemName (the order-session simulator and ``ncctl party`` use different ones).
``--ready-file`` is written once listening: ``{"pid", "host", "port"}``. SIGTERM or SIGINT
closes every connection and exits 0. Exit status 2 for bad arguments, 69 when the port
cannot be bound, 78 when the secret cannot be read.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import heapq
import json
import os
import selectors
import signal
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from ncctl.errors import NcctlError
from ncctl.ilink import fixp, fixp_signatures, reject_codes, sbe
from ncctl.ilink.credentials import decode_secret, read_key_file
from ncctl.sim import count, log, non_negative, number_arg, write_atomic_text

PORT = number_arg(int, low=0, high=65535, what="port number")
ERROR_CODE = number_arg(int, low=0, high=0xFFFF, what="error code")

PROG = "cme_gateway"
EXIT_UNAVAILABLE = 69
EXIT_CONFIG = 78
DEFAULT_EXPIRY_DAYS = 90
REQUIRED_ROLES = {1: "executing firm", 118: "operator"}
WIRE_STAMPS_KEPT = 64


@dataclass
class UuidState:
    """One negotiated UUID: whose it is and where both sequences are."""

    session: str
    firm: str
    next_in: int = 1
    next_out: int = 1


@dataclass
class Registration:
    request: sbe.PartyDetailsDefinitionRequest518
    session: str
    firm: str
    uuid: int
    registered_ns: int

    def as_dict(self) -> dict[str, Any]:
        r = self.request
        return {
            "id": r.party_details_list_req_id,
            "session": self.session,
            "firm": self.firm,
            "uuid": self.uuid,
            "seq_num": r.seq_num,
            "roles": {str(p.party_detail_role): p.party_detail_id for p in r.party_details},
            "cust_order_capacity": r.cust_order_capacity,
            "clearing_account_type": r.clearing_account_type,
            "cust_order_handling_inst": r.cust_order_handling_inst,
            "self_match_prevention_id": r.self_match_prevention_id,
            "self_match_prevention_instruction": r.self_match_prevention_instruction,
            "avg_px_group_id": r.avg_px_group_id,
            "avg_px_indicator": r.avg_px_indicator,
            "clearing_trade_price_type": r.clearing_trade_price_type,
            "cmta_giveup_cd": r.cmta_giveup_cd,
            "memo": r.memo,
        }


@dataclass
class Connection:
    sock: socket.socket
    peer: str
    reader: sbe.FrameReader = field(default_factory=sbe.FrameReader)
    uuid: int | None = None
    established: bool = False
    keepalive_ms: int = 30000
    last_out: float = field(default_factory=time.monotonic)
    closed: bool = False


@dataclass(frozen=True)
class Options:
    secret: bytes
    access_key_id: str | None
    session: str | None
    firm: str | None
    expiry_days: int | None
    max_request_age_s: float
    drop_after: int | None
    delay_s: float
    reject_negotiation: int | None


class Gateway:
    """The protocol and the state; sockets are handed in by :class:`Server`."""

    def __init__(self, options: Options, state_file: Path | None) -> None:
        self.opt = options
        self.state_file = state_file
        self.uuids: dict[int, UuidState] = {}
        self.last_uuid: dict[tuple[str, str], int] = {}
        self.registrations: dict[int, Registration] = {}
        self.requests_by_id: dict[int, int] = {}
        self.duplicate_rejects: list[int] = []
        self.wire_stamps: list[dict[str, Any]] = []
        self.counters = {
            "connections": 0,
            "messages_in": 0,
            "negotiations": 0,
            "negotiation_rejects": 0,
            "establishments": 0,
            "establishment_rejects": 0,
            "terminations": 0,
            "terminates_received": 0,
            "drops": 0,
            "business_rejects": 0,
        }
        self.establishments_by_system: dict[str, int] = {}
        self._dropped = False
        self._muted = False
        self._pending: list[tuple[Connection, bytes]] = []
        self.port = 0
        # (due, order, connection, frame) of delayed answers
        self.outbox: list[tuple[float, int, Connection, bytes]] = []
        self._order = 0

    # -- helpers --------------------------------------------------------------------

    def now_ns(self) -> int:
        """The machine's time: what CME stamps with and checks against."""
        return fixp.wire_time_ns()

    def note_stamp(self, msg: sbe.Message) -> None:
        """Keep the time a received message carries (for tests of the client's stamps)."""
        for name in ("request_timestamp", "sending_time_epoch"):
            value = getattr(msg, name, None)
            if isinstance(value, int):
                entry = {"message": msg.name, "field": name, "value": value}
                self.wire_stamps.append({**entry, "received_ns": self.now_ns()})
                del self.wire_stamps[:-WIRE_STAMPS_KEPT]
                return

    def write_state(self) -> None:
        if self.state_file is None:
            return
        doc = {
            "pid": os.getpid(),
            "port": self.port,
            "registrations": [r.as_dict() for r in self.registrations.values()],
            "definition_requests": {str(k): v for k, v in self.requests_by_id.items()},
            "duplicate_id_rejects": self.duplicate_rejects,
            "wire_stamps": self.wire_stamps,
            "uuids": {
                str(u): {"session": s.session, "firm": s.firm, "next_in": s.next_in}
                for u, s in self.uuids.items()
            },
            **self.counters,
            "establishments_by_system": self.establishments_by_system,
        }
        write_atomic_text(self.state_file, json.dumps(doc, indent=1) + "\n")

    def send(self, conn: Connection, msg: sbe.Message) -> None:
        """Queue an answer; :meth:`flush` sends it once the state file is written."""
        frame = sbe.encode(msg)
        if not self._muted:
            self._pending.append((conn, frame))

    def flush(self) -> None:
        """Write the state file, then send (or schedule, with --delay-ms) queued answers."""
        self.write_state()
        pending, self._pending = self._pending, []
        for conn, frame in pending:
            if self.opt.delay_s > 0:
                self._order += 1
                due = time.monotonic() + self.opt.delay_s
                heapq.heappush(self.outbox, (due, self._order, conn, frame))
            else:
                self.write(conn, frame)

    def write(self, conn: Connection, frame: bytes) -> None:
        if conn.closed:
            return
        try:
            conn.sock.sendall(frame)
            conn.last_out = time.monotonic()
        except OSError as exc:
            log(PROG, f"{conn.peer}: send failed ({exc}); closing")
            self.close(conn)

    def close(self, conn: Connection) -> None:
        if not conn.closed:
            conn.closed = True
            with contextlib.suppress(OSError):
                conn.sock.close()

    def app_seq(self, conn: Connection) -> int:
        assert conn.uuid is not None
        state = self.uuids[conn.uuid]
        seq = state.next_out
        state.next_out += 1
        return seq

    def terminate(self, conn: Connection, code: int, reason: str) -> None:
        log(PROG, f"{conn.peer}: terminate (code {code}): {reason}")
        self.counters["terminations"] += 1
        self.send(
            conn,
            sbe.Terminate507(
                reason=reason[:48],
                uuid=conn.uuid or 0,
                request_timestamp=self.now_ns(),
                error_codes=code,
                split_msg=None,
            ),
        )
        self.flush_now(conn)
        self.close(conn)

    def flush_now(self, conn: Connection) -> None:
        """Send this connection's queued and delayed answers at once (before closing it)."""
        self.write_state()
        pending, self._pending = self._pending, []
        for queued, frame in pending:
            if queued is conn:
                self.write(conn, frame)
            else:
                self._pending.append((queued, frame))
        keep = []
        for item in sorted(self.outbox):
            if item[2] is conn:
                self.write(conn, item[3])
            else:
                keep.append(item)
        self.outbox = keep
        heapq.heapify(self.outbox)

    # -- inbound --------------------------------------------------------------------

    def on_frame(self, conn: Connection, frame: bytes) -> None:
        self.counters["messages_in"] += 1
        number = self.counters["messages_in"]
        drop = (
            self.opt.drop_after is not None and not self._dropped and number >= self.opt.drop_after
        )
        try:
            msg = sbe.decode(frame)
        except NcctlError as exc:
            self.terminate(conn, 19, f"malformed frame: {exc.message}")
            self.flush()
            return
        self.note_stamp(msg)
        if drop:  # apply the message, lose the answer (as if it died on the wire)
            self._dropped = True
            self.counters["drops"] += 1
            self._muted = True
            try:
                self.dispatch(conn, msg)
            finally:
                self._muted = False
            log(PROG, f"{conn.peer}: dropping the connection after message {number} (on request)")
            self.close(conn)
            self.flush()
            return
        self.dispatch(conn, msg)
        self.flush()

    def dispatch(self, conn: Connection, msg: sbe.Message) -> None:
        if isinstance(msg, sbe.Negotiate500):
            self.on_negotiate(conn, msg)
        elif isinstance(msg, sbe.Establish503):
            self.on_establish(conn, msg)
        elif isinstance(msg, sbe.Terminate507):
            self.counters["terminates_received"] += 1
            self.send(
                conn,
                sbe.Terminate507(
                    reason="goodbye",
                    uuid=conn.uuid or msg.uuid,
                    request_timestamp=self.now_ns(),
                    error_codes=0,
                    split_msg=None,
                ),
            )
            self.flush_now(conn)
            self.close(conn)
        elif isinstance(msg, sbe.Sequence506):
            if not conn.established:
                self.terminate(conn, 3, "Sequence before Establish")
            elif conn.uuid is not None and msg.next_seq_no > self.uuids[conn.uuid].next_in:
                self.terminate(conn, 23, "sequence gap announced by Sequence")
        elif isinstance(msg, sbe.PartyDetailsDefinitionRequest518 | sbe.PartyDetailsListRequest537):
            if not self.check_app_seq(conn, msg.seq_num, msg.name):
                return
            if isinstance(msg, sbe.PartyDetailsDefinitionRequest518):
                self.on_definition(conn, msg)
            else:
                self.on_list(conn, msg)
        else:
            self.terminate(conn, 23, f"{msg.name} is not accepted from a customer")

    def reject_negotiate(
        self, conn: Connection, msg: sbe.Negotiate500, code: int, why: str
    ) -> None:
        log(PROG, f"{conn.peer}: negotiation rejected (code {code}): {why}")
        self.counters["negotiation_rejects"] += 1
        self.send(
            conn,
            sbe.NegotiationReject502(
                reason=why[:48],
                uuid=msg.uuid,
                request_timestamp=msg.request_timestamp,
                error_codes=code,
                fault_tolerance_indicator=1,
                split_msg=None,
                environment_indicator=None,
            ),
        )

    def stale(self, request_timestamp: int) -> bool:
        limit = self.opt.max_request_age_s
        if limit <= 0:
            return False
        return abs(self.now_ns() - request_timestamp) > limit * 1e9

    def on_negotiate(self, conn: Connection, msg: sbe.Negotiate500) -> None:
        o = self.opt
        if conn.uuid is not None:
            self.terminate(conn, 4, "already negotiated on this connection")
        elif o.reject_negotiation is not None:
            self.reject_negotiate(conn, msg, o.reject_negotiation, "rejected (simulator told to)")
        elif o.access_key_id is not None and msg.access_key_id != o.access_key_id:
            self.reject_negotiate(conn, msg, 0, "unknown AccessKeyID")
        elif o.session is not None and msg.session != o.session:
            self.reject_negotiate(conn, msg, 10, f"unknown session {msg.session!r}")
        elif o.firm is not None and msg.firm != o.firm:
            self.reject_negotiate(conn, msg, 10, f"unknown firm {msg.firm!r}")
        elif not fixp_signatures.negotiate_signature_ok(o.secret, msg):
            self.reject_negotiate(conn, msg, 0, "HMAC signature does not match")
        elif self.stale(msg.request_timestamp):
            self.reject_negotiate(conn, msg, 3, "RequestTimestamp out of range")
        elif msg.uuid <= self.last_uuid.get((msg.session, msg.firm), 0):
            self.terminate(conn, 13, "UUID not greater than the last one")
        else:
            key = (msg.session, msg.firm)
            previous = self.last_uuid.get(key)
            prev_seq = self.uuids[previous].next_out - 1 if previous is not None else 0
            self.uuids[msg.uuid] = UuidState(msg.session, msg.firm)
            self.last_uuid[key] = msg.uuid
            conn.uuid = msg.uuid
            self.counters["negotiations"] += 1
            log(PROG, f"{conn.peer}: negotiated UUID {msg.uuid} for {msg.session}/{msg.firm}")
            self.send(
                conn,
                sbe.NegotiationResponse501(
                    uuid=msg.uuid,
                    request_timestamp=msg.request_timestamp,
                    secret_key_secure_id_expiration=o.expiry_days,
                    fault_tolerance_indicator=1,
                    split_msg=None,
                    previous_seq_no=prev_seq,
                    previous_uuid=previous or 0,
                    environment_indicator=None,
                ),
            )

    def reject_establish(
        self, conn: Connection, msg: sbe.Establish503, code: int, why: str
    ) -> None:
        log(PROG, f"{conn.peer}: establishment rejected (code {code}): {why}")
        state = self.uuids.get(msg.uuid)  # NextSeqNo: our next SeqNum for that UUID, if any
        self.counters["establishment_rejects"] += 1
        self.send(
            conn,
            sbe.EstablishmentReject505(
                reason=why[:48],
                uuid=msg.uuid,
                request_timestamp=msg.request_timestamp,
                next_seq_no=state.next_out if state is not None else 0,
                error_codes=code,
                fault_tolerance_indicator=1,
                split_msg=None,
                environment_indicator=None,
            ),
        )

    def on_establish(self, conn: Connection, msg: sbe.Establish503) -> None:
        o = self.opt
        state = self.uuids.get(msg.uuid)
        if conn.established:
            self.terminate(conn, 6, "already established on this connection")
        elif o.access_key_id is not None and msg.access_key_id != o.access_key_id:
            self.reject_establish(conn, msg, 0, "unknown AccessKeyID")
        elif not fixp_signatures.establish_signature_ok(o.secret, msg):
            self.reject_establish(conn, msg, 0, "HMAC signature does not match")
        elif state is None or (state.session, state.firm) != (msg.session, msg.firm):
            self.terminate(conn, 2, f"UUID {msg.uuid} was not negotiated")
        elif self.stale(msg.request_timestamp):
            self.reject_establish(conn, msg, 3, "RequestTimestamp out of range")
        elif msg.keep_alive_interval < 1000:
            self.reject_establish(conn, msg, 11, "KeepAliveInterval below 1000 ms")
        elif msg.next_seq_no < state.next_in:
            self.terminate(conn, 10, f"NextSeqNo {msg.next_seq_no} lower than {state.next_in}")
        else:
            if msg.next_seq_no > state.next_in:
                log(PROG, f"{conn.peer}: skipping our SeqNum {state.next_in}..{msg.next_seq_no}")
                state.next_in = msg.next_seq_no
            conn.uuid = msg.uuid
            conn.established = True
            conn.keepalive_ms = msg.keep_alive_interval
            self.counters["establishments"] += 1
            system = msg.trading_system_name
            self.establishments_by_system[system] = self.establishments_by_system.get(system, 0) + 1
            previous = [u for u in self.uuids if u < msg.uuid and self.uuids[u].firm == state.firm]
            prev_uuid = max(previous) if previous else 0
            prev_seq = self.uuids[prev_uuid].next_out - 1 if prev_uuid else 0
            log(PROG, f"{conn.peer}: established UUID {msg.uuid} at SeqNum {state.next_in}")
            self.send(
                conn,
                sbe.EstablishmentAck504(
                    uuid=msg.uuid,
                    request_timestamp=msg.request_timestamp,
                    next_seq_no=state.next_out,
                    previous_seq_no=prev_seq,
                    previous_uuid=prev_uuid,
                    keep_alive_interval=msg.keep_alive_interval,
                    secret_key_secure_id_expiration=o.expiry_days,
                    fault_tolerance_indicator=1,
                    split_msg=None,
                    environment_indicator=None,
                ),
            )

    def check_app_seq(self, conn: Connection, seq: int, name: str) -> bool:
        if not conn.established or conn.uuid is None:
            self.terminate(conn, 3, f"{name} before Establish")
            return False
        state = self.uuids[conn.uuid]
        if seq < state.next_in:
            self.terminate(conn, 11, f"SeqNum {seq} lower than expected {state.next_in}")
            return False
        if seq > state.next_in:
            self.terminate(conn, 23, f"SeqNum {seq} but expected {state.next_in}")
            return False
        state.next_in = seq + 1
        return True

    def business_reject(
        self, conn: Connection, msg: sbe.PartyDetailsDefinitionRequest518, reason: int, text: str
    ) -> None:
        assert conn.uuid is not None
        self.counters["business_rejects"] += 1
        log(PROG, f"{conn.peer}: 518 id {msg.party_details_list_req_id} rejected: {text}")
        self.send(
            conn,
            sbe.BusinessReject521(
                seq_num=self.app_seq(conn),
                uuid=conn.uuid,
                text=text[:256],
                sender_id="",
                party_details_list_req_id=msg.party_details_list_req_id,
                sending_time_epoch=self.now_ns(),
                business_reject_ref_id=msg.party_details_list_req_id,
                location="",
                ref_seq_num=msg.seq_num,
                ref_tag_id=1505 if reason == reject_codes.REUSED_PARTY_ID else None,
                business_reject_reason=reason,
                ref_msg_type="CX",
                poss_retrans_flag=0,
                manual_order_indicator=None,
                split_msg=None,
            ),
        )

    def on_definition(self, conn: Connection, msg: sbe.PartyDetailsDefinitionRequest518) -> None:
        assert conn.uuid is not None
        ident = msg.party_details_list_req_id
        self.requests_by_id[ident] = self.requests_by_id.get(ident, 0) + 1
        roles = [p.party_detail_role for p in msg.party_details]
        missing = [name for role, name in REQUIRED_ROLES.items() if role not in roles]
        if ident in self.registrations:
            self.duplicate_rejects.append(ident)
            self.business_reject(
                conn,
                msg,
                reject_codes.REUSED_PARTY_ID,
                f"PartyDetailsListReqID {ident} is already in use this week",
            )
        elif msg.list_update_action != "A":
            self.business_reject(conn, msg, 115, "ListUpdateAction must be A (add)")
        elif missing:
            self.business_reject(conn, msg, 5, f"missing PartyDetailRole: {', '.join(missing)}")
        elif len(set(roles)) != len(roles):
            self.business_reject(conn, msg, 110, "a PartyDetailRole occurs more than once")
        else:
            state = self.uuids[conn.uuid]
            self.registrations[ident] = Registration(
                msg, state.session, state.firm, conn.uuid, self.now_ns()
            )
            log(PROG, f"{conn.peer}: registered PartyDetailsListReqID {ident}")
            self.send(
                conn,
                sbe.PartyDetailsDefinitionRequestAck519(
                    seq_num=self.app_seq(conn),
                    uuid=conn.uuid,
                    memo=msg.memo,
                    avg_px_group_id=msg.avg_px_group_id,
                    party_details_list_req_id=ident,
                    sending_time_epoch=self.now_ns(),
                    self_match_prevention_id=msg.self_match_prevention_id,
                    party_detail_request_status=0,
                    cust_order_capacity=msg.cust_order_capacity,
                    clearing_account_type=msg.clearing_account_type,
                    self_match_prevention_instruction=msg.self_match_prevention_instruction,
                    avg_px_indicator=msg.avg_px_indicator,
                    clearing_trade_price_type=msg.clearing_trade_price_type,
                    cmta_giveup_cd=msg.cmta_giveup_cd,
                    cust_order_handling_inst=msg.cust_order_handling_inst,
                    list_update_action=msg.list_update_action,
                    party_detail_definition_status=0,
                    executor=msg.executor,
                    idm_short_code=msg.idm_short_code,
                    poss_retrans_flag=0,
                    split_msg=None,
                    party_details=msg.party_details,
                    trd_reg_publications=msg.trd_reg_publications,
                ),
            )

    def on_list(self, conn: Connection, msg: sbe.PartyDetailsListRequest537) -> None:
        assert conn.uuid is not None
        firm = self.uuids[conn.uuid].firm
        if msg.party_ids:
            wanted = [p.party_id for p in msg.party_ids]
            found = [self.registrations[i] for i in wanted if i in self.registrations]
        else:
            firms = {r.requesting_party_id for r in msg.requesting_party_ids} or {firm}
            found = [r for r in self.registrations.values() if r.firm in firms]
        found = [r for r in found if r.firm == firm]  # never another firm's definitions
        if not found:
            self.send(conn, self.report(conn, msg, None, 0, True))
            return
        for i, reg in enumerate(found):
            self.send(conn, self.report(conn, msg, reg, len(found), i == len(found) - 1))

    def report(
        self,
        conn: Connection,
        msg: sbe.PartyDetailsListRequest537,
        reg: Registration | None,
        total: int,
        last: bool,
    ) -> sbe.PartyDetailsListReport538:
        assert conn.uuid is not None
        r = reg.request if reg is not None else None
        return sbe.PartyDetailsListReport538(
            seq_num=self.app_seq(conn),
            uuid=conn.uuid,
            avg_px_group_id=r.avg_px_group_id if r else "",
            party_details_list_req_id=r.party_details_list_req_id if r else 0,
            party_details_list_report_id=msg.party_details_list_req_id,
            sending_time_epoch=self.now_ns(),
            self_match_prevention_id=r.self_match_prevention_id if r else None,
            tot_num_parties=total,
            request_result=0 if r else 2,
            last_fragment=1 if last else 0,
            cust_order_capacity=r.cust_order_capacity if r else None,
            clearing_account_type=r.clearing_account_type if r else None,
            self_match_prevention_instruction=r.self_match_prevention_instruction if r else None,
            avg_px_indicator=r.avg_px_indicator if r else None,
            clearing_trade_price_type=r.clearing_trade_price_type if r else None,
            cmta_giveup_cd=r.cmta_giveup_cd if r else None,
            cust_order_handling_inst=r.cust_order_handling_inst if r else None,
            executor=r.executor if r else None,
            idm_short_code=r.idm_short_code if r else None,
            poss_retrans_flag=0,
            split_msg=None,
            party_details=r.party_details if r else (),
            trd_reg_publications=r.trd_reg_publications if r else (),
        )

    # -- timers ---------------------------------------------------------------------

    def heartbeat(self, conn: Connection) -> None:
        if conn.closed or not conn.established or conn.uuid is None:
            return
        if any(item[2] is conn for item in self.outbox):
            return  # a delayed answer is on its way: a heartbeat must not overtake it
        if time.monotonic() - conn.last_out >= conn.keepalive_ms / 1000:
            self.write(
                conn,
                sbe.encode(
                    sbe.Sequence506(
                        uuid=conn.uuid,
                        next_seq_no=self.uuids[conn.uuid].next_out,
                        fault_tolerance_indicator=1,
                        keep_alive_interval_lapsed=0,
                    )
                ),
            )

    def next_timer(self, conns: list[Connection]) -> float:
        """Seconds until the next delayed answer or heartbeat is due (at most 1 s)."""
        now = time.monotonic()
        due = now + 1.0
        if self.outbox:
            due = min(due, self.outbox[0][0])
        waiting = {id(item[2]) for item in self.outbox}
        for conn in conns:
            if conn.established and not conn.closed and id(conn) not in waiting:
                due = min(due, conn.last_out + conn.keepalive_ms / 1000)
        return max(0.0, due - now)

    def run_timers(self, conns: list[Connection]) -> None:
        now = time.monotonic()
        while self.outbox and self.outbox[0][0] <= now:
            _, _, conn, frame = heapq.heappop(self.outbox)
            self.write(conn, frame)
        for conn in conns:
            self.heartbeat(conn)


class Server:
    """The listening socket, the connections and the signals, in one select loop."""

    def __init__(self, gateway: Gateway, listener: socket.socket) -> None:
        self.gateway = gateway
        self.listener = listener
        self.selector = selectors.DefaultSelector()
        self.conns: list[Connection] = []
        self.stop_signal: int | None = None
        self._wake_r, self._wake_w = os.pipe()
        for fd in (self._wake_r, self._wake_w):
            flags = fcntl.fcntl(fd, fcntl.F_GETFL)
            fcntl.fcntl(fd, fcntl.F_SETFL, flags | os.O_NONBLOCK)
        self._old_wakeup = signal.set_wakeup_fd(self._wake_w, warn_on_full_buffer=False)
        self._old_handlers = {
            sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGTERM, signal.SIGINT)
        }
        listener.setblocking(False)
        self.selector.register(listener, selectors.EVENT_READ, "listen")
        self.selector.register(self._wake_r, selectors.EVENT_READ, "wake")

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self.stop_signal = signum

    def run(self) -> None:
        while self.stop_signal is None:
            for key, _ in self.selector.select(self.gateway.next_timer(self.conns)):
                if key.data == "listen":
                    self.accept()
                elif key.data == "wake":
                    with contextlib.suppress(BlockingIOError):
                        while os.read(self._wake_r, 512):
                            pass
                elif isinstance(key.data, Connection) and not key.data.closed:
                    self.readable(key.data)
            self.gateway.run_timers(self.conns)
            self.reap()

    def accept(self) -> None:
        self.reap()  # a new socket may get the number of one closed in this round
        try:
            sock, addr = self.listener.accept()
        except BlockingIOError:
            return
        sock.setblocking(True)
        sock.settimeout(2.0)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn = Connection(sock, f"{addr[0]}:{addr[1]}")
        self.conns.append(conn)
        self.selector.register(sock, selectors.EVENT_READ, conn)
        self.gateway.counters["connections"] += 1
        self.gateway.write_state()
        log(PROG, f"{conn.peer}: connected")

    def readable(self, conn: Connection) -> None:
        try:
            data = conn.sock.recv(65536)
        except OSError:
            data = b""
        if not data:
            log(PROG, f"{conn.peer}: disconnected")
            self.gateway.close(conn)
            return
        conn.reader.feed(data)
        while not conn.closed:
            try:
                frame = conn.reader.next_frame()
            except NcctlError as exc:
                self.gateway.terminate(conn, 18, f"bad framing: {exc.message}")
                self.gateway.flush()
                return
            if frame is None:
                return
            self.gateway.on_frame(conn, frame)

    def reap(self) -> None:
        for conn in [c for c in self.conns if c.closed]:
            with contextlib.suppress(KeyError, ValueError):
                self.selector.unregister(conn.sock)
            self.conns.remove(conn)

    def close(self) -> None:
        for conn in self.conns:
            self.gateway.close(conn)
        self.reap()
        self.selector.close()
        self.listener.close()
        for sig, handler in self._old_handlers.items():
            signal.signal(sig, handler)
        signal.set_wakeup_fd(self._old_wakeup)
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m ncctl.sim.cme_gateway",
        description="Simulated CME iLink 3 gateway: FIXP session and party-details registration.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="listen address (127.0.0.1)")
    parser.add_argument("--port", type=PORT, required=True, help="listen port (0: any free)")
    secret = parser.add_mutually_exclusive_group(required=True)
    secret.add_argument(
        "--secret-file", type=Path, help="key file: the base64url secret, or TOML secret_key"
    )
    secret.add_argument("--secret-env", metavar="NAME", help="environment variable with it")
    parser.add_argument("--access-key-id", default=None, help="accepted AccessKeyID")
    parser.add_argument("--session", default=None, help="accepted session id (any if unset)")
    parser.add_argument("--firm", default=None, help="accepted firm id (any if unset)")
    parser.add_argument("--ready-file", type=Path, default=None, help="written once listening")
    parser.add_argument("--state-file", type=Path, default=None, help="JSON state, kept current")
    parser.add_argument(
        "--secret-expiry-days",
        type=int,
        default=DEFAULT_EXPIRY_DAYS,
        help="SecretKeySecureIDExpiration sent in 501/504 (-1: null)",
    )
    parser.add_argument(
        "--max-request-age-s",
        type=non_negative,
        default=5.0,
        help="RequestTimestamp tolerance in seconds (0: unchecked)",
    )
    parser.add_argument(
        "--drop-after", type=count, default=None, help="drop the connection after message N"
    )
    parser.add_argument(
        "--delay-ms", type=non_negative, default=0.0, help="delay every answer (milliseconds)"
    )
    parser.add_argument(
        "--reject-negotiation",
        type=ERROR_CODE,
        default=None,
        metavar="CODE",
        help="reject every Negotiate with this error code",
    )
    args = parser.parse_args(argv)
    if not -1 <= args.secret_expiry_days < 0xFFFF:
        parser.error("--secret-expiry-days: -1 to 65534")
    return args


def load_options(args: argparse.Namespace) -> Options:
    """The run's options; the secret from the file or variable (NcctlError if unusable)."""
    key_id = args.access_key_id
    if args.secret_file is not None:
        creds = read_key_file(args.secret_file, key_id or "-")
        secret = creds.secret
        if creds.access_key_id != "-":
            key_id = creds.access_key_id
    else:
        value = os.environ.get(args.secret_env)
        if value is None:
            raise NcctlError(f"${args.secret_env} is not set")
        secret = decode_secret(value, f"${args.secret_env}")
    return Options(
        secret=secret,
        access_key_id=key_id,
        session=args.session,
        firm=args.firm,
        expiry_days=None if args.secret_expiry_days < 0 else args.secret_expiry_days,
        max_request_age_s=args.max_request_age_s,
        drop_after=args.drop_after,
        delay_s=args.delay_ms / 1000,
        reject_negotiation=args.reject_negotiation,
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        options = load_options(args)
    except NcctlError as exc:
        log(PROG, exc.message, error=True)
        return EXIT_CONFIG
    try:
        listener = socket.create_server((args.host, args.port), backlog=16)
    except OSError as exc:
        log(PROG, f"cannot listen on {args.host}:{args.port}: {exc.strerror}", error=True)
        return EXIT_UNAVAILABLE
    gateway = Gateway(options, args.state_file)
    gateway.port = listener.getsockname()[1]
    server = Server(gateway, listener)
    try:
        gateway.write_state()
        if args.ready_file is not None:
            ready = {"pid": os.getpid(), "host": args.host, "port": gateway.port}
            args.ready_file.parent.mkdir(parents=True, exist_ok=True)
            write_atomic_text(args.ready_file, json.dumps(ready) + "\n")
        log(PROG, f"ready: listening on {args.host}:{gateway.port}")
        server.run()
        log(PROG, f"stopping (signal {server.stop_signal})")
    finally:
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
