"""Weekly party-details registration over iLink 3: register, list, verify.

On iLink 3 an order carries only a PartyDetailsListReqID (tag 1505); what it stands for
(executing firm, account, operator, order attributes) is registered beforehand with a
PartyDetailsDefinitionRequest (518) per ``[[party_details]]`` entry, acknowledged by a
PartyDetailsDefinitionRequestAck (519). ncctl does it every Sunday at 15:25 CT.

:func:`register_all`, in one FIXP session (:mod:`ncctl.ilink.fixp`):

1. asks what the gateway already holds for the firm (PartyDetailsListRequest 537, answered
   by PartyDetailsListReport 538s);
2. skips every entry the gateway already holds with the same details ("already
   registered": running twice in a week, or retrying, never re-sends an id);
3. sends a 518 for each other entry and waits for its 519 (or BusinessReject 521);
   an id the gateway holds with *other* details is still sent, so that the gateway's own
   answer decides, and a reused-id reject becomes :class:`ReusedPartyIdError` naming the
   differences;
4. when the connection drops or the gateway stops answering, reconnects (the same UUID,
   the next sequence number) up to ``ilink.registration_attempts`` times and starts again
   at step 1, so a 518 that was applied but whose 519 was lost is found by the list and
   never sent twice.

Every message sent or received is appended to the audit-trail CSV (CME's columns, the
party-details ones included). The outcome of each run is kept per week in the state
database (``STATE_DIR/party.sqlite``), journaled, and returned; the runner asks
:func:`week_status` whether the week is registered before the order session comes up.

SecretKeySecureIDExpiration (501/504) is in every result; under
``ilink.secret_expiry_warn_days`` it also becomes a warning.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ncctl.clock import Clock
from ncctl.config import NcctlConfig
from ncctl.errors import (
    CantCreateError,
    ConfigError,
    NcctlError,
    TemporaryError,
    UnavailableError,
)
from ncctl.ilink import fixp, reject_codes, sbe
from ncctl.ilink.audit_trail import MESSAGE_TYPES, AuditRow, AuditTrailWriter, Cell
from ncctl.ilink.credentials import Credentials, load_credentials
from ncctl.ilink.errors import (
    PartyMismatchError,
    PartyRejectedError,
    ProtocolError,
    ReusedPartyIdError,
)
from ncctl.ilink.settings import ROLE_NAMES, IlinkConfig, PartyDetails

STATE_DB_NAME = "party.sqlite"
REQUESTING_PARTY_SOURCE = "C"
REQUESTING_PARTY_ROLE = "1"  # executing firm
REQUEST_RESULTS = {
    0: "valid request",
    2: "no data found",
    3: "not authorized to retrieve data",
    4: "data temporarily unavailable",
}

Status = str  # registered | already_registered | rejected | not_sent


# -- inputs -----------------------------------------------------------------------------


@dataclass(frozen=True)
class PartyInputs:
    """Everything the party commands need from the configuration."""

    ilink: IlinkConfig
    entries: tuple[PartyDetails, ...]
    state_dir: Path
    audit_path: Path | None


def inputs_from_config(config: NcctlConfig) -> PartyInputs:
    """The party inputs of a configuration: ``[ilink]``, ``[[party_details]]``, the state
    directory and the audit trail every message is written to."""
    audit = config.logs.audit
    return PartyInputs(
        ilink=config.ilink,
        entries=tuple(config.party_details),
        state_dir=Path(config.state_dir),
        audit_path=Path(audit.path) if audit is not None else None,
    )


def session_params(ilink: IlinkConfig) -> fixp.SessionParams:
    return fixp.SessionParams(
        host=ilink.host,
        port=ilink.port,
        session=ilink.session,
        firm=ilink.firm,
        trading_system_name=ilink.trading_system_name,
        trading_system_version=ilink.trading_system_version,
        trading_system_vendor=ilink.trading_system_vendor,
        keepalive_ms=ilink.keepalive_ms,
        connect_timeout_s=ilink.connect_timeout_s,
        response_timeout_s=ilink.response_timeout_s,
    )


def credentials_for(ilink: IlinkConfig) -> Credentials:
    secret = ilink.secret_key.get_secret_value() if ilink.secret_key is not None else None
    return load_credentials(ilink.access_key_id, secret, ilink.secret_key_file)


def week_of(trade_date: dt.date) -> dt.date:
    """The Sunday that starts the trading week of ``trade_date``."""
    return trade_date - dt.timedelta(days=(trade_date.weekday() + 1) % 7)


# -- definitions ------------------------------------------------------------------------


@dataclass(frozen=True)
class Definition:
    """What a 1505 id stands for, as the gateway can report it back (538 has no memo)."""

    id: int
    roles: tuple[tuple[int, str], ...]
    customer_type_indicator: int | None
    clearing_account_type: int | None
    customer_order_handling: str | None
    smp_id: int | None = None
    smp_instruction: str | None = None
    avg_px_group_id: str | None = None
    avg_px_indicator: int | None = None
    clearing_trade_price_type: int | None = None
    cmta_giveup: str | None = None

    @classmethod
    def from_entry(cls, entry: PartyDetails) -> Definition:
        return cls(
            id=entry.id,
            roles=tuple(sorted(entry.roles().items())),
            customer_type_indicator=entry.customer_type_indicator,
            clearing_account_type=entry.clearing_account_type,
            customer_order_handling=entry.customer_order_handling,
            smp_id=entry.smp_id,
            smp_instruction=entry.smp_instruction,
            avg_px_group_id=entry.avg_px_group_id,
            avg_px_indicator=entry.avg_px_indicator,
            clearing_trade_price_type=entry.clearing_trade_price_type,
            cmta_giveup=entry.cmta_giveup,
        )

    @classmethod
    def from_message(
        cls,
        msg: sbe.PartyDetailsListReport538
        | sbe.PartyDetailsDefinitionRequestAck519
        | sbe.PartyDetailsDefinitionRequest518,
    ) -> Definition:
        return cls(
            id=msg.party_details_list_req_id,
            roles=tuple(
                sorted((p.party_detail_role, p.party_detail_id) for p in msg.party_details)
            ),
            customer_type_indicator=msg.cust_order_capacity,
            clearing_account_type=msg.clearing_account_type,
            customer_order_handling=msg.cust_order_handling_inst,
            smp_id=msg.self_match_prevention_id,
            smp_instruction=msg.self_match_prevention_instruction,
            avg_px_group_id=msg.avg_px_group_id or None,
            avg_px_indicator=msg.avg_px_indicator,
            clearing_trade_price_type=msg.clearing_trade_price_type,
            cmta_giveup=msg.cmta_giveup_cd,
        )

    def as_dict(self) -> dict[str, Any]:
        """Config-key names -> values (roles spelled as their config keys)."""
        out: dict[str, Any] = {"id": self.id}
        for role, value in self.roles:
            out[ROLE_NAMES.get(role, f"role_{role}")] = value
        for f in dataclasses.fields(self):
            if f.name not in ("id", "roles"):
                out[f.name] = getattr(self, f.name)
        return out

    def differences(self, gateway: Definition) -> list[str]:
        """``key: config X, gateway Y`` for every key that differs."""
        mine, theirs = self.as_dict(), gateway.as_dict()
        keys = list(mine) + [k for k in theirs if k not in mine]
        return [
            f"{k}: config {mine.get(k)!r}, gateway {theirs.get(k)!r}"
            for k in keys
            if mine.get(k) != theirs.get(k)
        ]


def definition_request(
    entry: PartyDetails, seq_num: int, sending_time_ns: int
) -> sbe.PartyDetailsDefinitionRequest518:
    """The 518 that registers ``entry``."""
    return sbe.PartyDetailsDefinitionRequest518(
        party_details_list_req_id=entry.id,
        sending_time_epoch=sending_time_ns,
        list_update_action="A",
        seq_num=seq_num,
        memo=entry.memo or "",
        avg_px_group_id=entry.avg_px_group_id or "",
        self_match_prevention_id=entry.smp_id,
        cmta_giveup_cd=entry.cmta_giveup,
        cust_order_capacity=entry.customer_type_indicator,
        clearing_account_type=entry.clearing_account_type,
        self_match_prevention_instruction=entry.smp_instruction,
        avg_px_indicator=entry.avg_px_indicator,
        clearing_trade_price_type=entry.clearing_trade_price_type,
        cust_order_handling_inst=entry.customer_order_handling,
        executor=None,
        idm_short_code=None,
        party_details=tuple(
            sbe.PartyDetail(party_detail_id=value, party_detail_role=role)
            for role, value in entry.roles().items()
        ),
    )


# -- audit trail ------------------------------------------------------------------------


def _clean(text: str) -> str:
    return " ".join(text.split())


class AuditRecorder:
    """Appends one audit-trail row per message (the :class:`fixp.FixpClient` observer)."""

    def __init__(
        self, writer: AuditTrailWriter, session: str, entries: Sequence[PartyDetails]
    ) -> None:
        self.writer = writer
        self.session = session
        self.locations = {e.id: e.location for e in entries}
        self.rows = 0

    def __call__(self, direction: str, msg: sbe.Message, at: dt.datetime) -> None:
        # SendingTimeEpoch (5297) where the message has one; our own RequestTimestamp on a
        # session message we send; otherwise when it was sent or read (a 501 only echoes
        # our RequestTimestamp: that is not when CME sent it)
        stamp_ns = getattr(msg, "sending_time_epoch", None)
        if stamp_ns is None and direction == fixp.TO_CME:
            stamp_ns = getattr(msg, "request_timestamp", None)
        stamp = fixp.from_epoch_ns(stamp_ns) if isinstance(stamp_ns, int) and stamp_ns else at
        cells: dict[str, Cell] = {
            "session_id": self.session,
            "message_type": MESSAGE_TYPES.get(msg.template_id, msg.name),
        }
        if isinstance(
            msg,
            sbe.PartyDetailsDefinitionRequest518
            | sbe.PartyDetailsDefinitionRequestAck519
            | sbe.PartyDetailsListReport538,
        ):
            cells.update(self._party_cells(msg))
        elif isinstance(msg, sbe.PartyDetailsListRequest537):
            cells["party_details_list_request_id"] = msg.party_details_list_req_id
        elif isinstance(msg, sbe.BusinessReject521):
            cells["party_details_list_request_id"] = msg.party_details_list_req_id
            # the audit trail's 380--379 form (BusinessRejectReason--BusinessRejectRefID),
            # then the gateway's text
            ref = msg.business_reject_ref_id if msg.business_reject_ref_id is not None else ""
            cells["reject_reason"] = _clean(f"{msg.business_reject_reason}--{ref} {msg.text}")
        elif isinstance(
            msg, sbe.NegotiationReject502 | sbe.EstablishmentReject505 | sbe.Terminate507
        ):
            cells["reject_reason"] = _clean(f"{msg.error_codes} {msg.reason}")
        operator = cells.get("operator_id")
        if isinstance(operator, str) and not _operator_ok(operator):
            cells["operator_id"] = None
        self.writer.write(
            AuditRow(
                sending_timestamp=stamp,
                direction="TO CME" if direction == fixp.TO_CME else "FROM CME",
                **cells,
            )
        )
        self.rows += 1

    def _party_cells(
        self,
        msg: sbe.PartyDetailsDefinitionRequest518
        | sbe.PartyDetailsDefinitionRequestAck519
        | sbe.PartyDetailsListReport538,
    ) -> dict[str, Cell]:
        roles = {p.party_detail_role: p.party_detail_id for p in msg.party_details}
        cells: dict[str, Cell] = {
            "operator_id": roles.get(118),
            "party_details_list_request_id": msg.party_details_list_req_id,
            "self_match_prevention_id": msg.self_match_prevention_id,
            "self_match_prevention_instruction": msg.self_match_prevention_instruction,
            "customer_type_indicator": msg.cust_order_capacity,
            "average_price_group_id": msg.avg_px_group_id or None,
            "average_price_indicator": msg.avg_px_indicator,
            "cmta_give_up_code": msg.cmta_giveup_cd,
            "origin": msg.clearing_account_type,
            "clearing_trade_price_type": msg.clearing_trade_price_type,
            "customer_handling_instruction": msg.cust_order_handling_inst,
            "executing_firm_id": roles.get(1),
            "account_number": roles.get(24),
            "take_up_firm": roles.get(96),
            "take_up_account": roles.get(1000),
            "country_of_origin": self.locations.get(msg.party_details_list_req_id),
        }
        if isinstance(msg, sbe.PartyDetailsListReport538):
            if msg.request_result != 0:  # no definition in this report
                cells["party_details_list_request_id"] = None
                cells["reject_reason"] = REQUEST_RESULTS.get(msg.request_result)
        else:
            cells["list_update_action"] = msg.list_update_action
        if isinstance(msg, sbe.PartyDetailsDefinitionRequestAck519) and (
            msg.party_detail_request_status != 0
        ):
            cells["reject_reason"] = f"status {msg.party_detail_request_status}"
        return cells


def _operator_ok(value: str) -> bool:
    try:
        AuditRow(sending_timestamp=fixp.from_epoch_ns(0), direction="TO CME", operator_id=value)
    except ValueError:
        return False
    return True


@contextmanager
def audit_trail(path: Path | None) -> Iterator[AuditTrailWriter]:
    """The audit-trail writer for this run (the file and its directory are created)."""
    if path is None:
        raise ConfigError(
            "no audit trail is configured ([logs.audit]): iLink messages must be recorded",
            hint="add a [logs.audit] table with the audit-trail path",
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        writer = AuditTrailWriter(path).open()
    except OSError as exc:
        raise CantCreateError(
            f"{path}: cannot open the audit trail: {exc.strerror}",
            hint="check that logs.audit.path is writable",
        ) from None
    try:
        yield writer
    finally:
        writer.close()


# -- the session work -------------------------------------------------------------------


def _list_request(firm: str, ids: Sequence[int]) -> Callable[[int, int], sbe.Message]:
    def build(seq: int, now_ns: int) -> sbe.PartyDetailsListRequest537:
        return sbe.PartyDetailsListRequest537(
            party_details_list_req_id=now_ns,
            sending_time_epoch=now_ns,
            seq_num=seq,
            requesting_party_ids=()
            if ids
            else (sbe.RequestingParty(firm, REQUESTING_PARTY_SOURCE, REQUESTING_PARTY_ROLE),),
            party_ids=tuple(sbe.PartyId(i, "C", 1505) for i in ids),
        )

    return build


def held_definitions(client: fixp.FixpClient, firm: str) -> dict[int, Definition]:
    """What the gateway holds for ``firm``: a 537, then its 538s up to the last fragment."""
    request = client.send(_list_request(firm, ()))
    assert isinstance(request, sbe.PartyDetailsListRequest537)
    held: dict[int, Definition] = {}
    while True:
        msg = client.receive(what="PartyDetailsListReport")
        if not isinstance(msg, sbe.PartyDetailsListReport538):
            raise ProtocolError(f"iLink gateway sent {msg.name} where a list report was due")
        if msg.party_details_list_report_id != request.party_details_list_req_id:
            continue  # an answer to an earlier request
        if msg.request_result == 2:
            return held
        if msg.request_result != 0:
            meaning = REQUEST_RESULTS.get(msg.request_result, f"result {msg.request_result}")
            if msg.request_result == 4:
                raise TemporaryError(f"iLink party list: {meaning}", code="ilink.party.list")
            raise PartyRejectedError(
                f"iLink party list refused: {meaning}",
                hint="check that the session may read the firm's party details",
            )
        held[msg.party_details_list_req_id] = Definition.from_message(msg)
        if msg.last_fragment == 1 or len(held) >= msg.tot_num_parties:
            return held


@dataclass
class EntryOutcome:
    """What became of one entry."""

    entry: PartyDetails
    status: Status = "not_sent"
    detail: str = ""
    error: NcctlError | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.entry.id,
            "status": self.status,
            "detail": self.detail,
            "error": self.error.as_dict() if self.error is not None else None,
            "definition": Definition.from_entry(self.entry).as_dict(),
        }


def _register_one(client: fixp.FixpClient, outcome: EntryOutcome, held: Definition | None) -> None:
    entry = outcome.entry
    want = Definition.from_entry(entry)
    sent = client.send(lambda seq, now_ns: definition_request(entry, seq, now_ns))
    while True:
        reply = client.receive(what=f"PartyDetailsDefinitionRequestAck for id {entry.id}")
        if isinstance(reply, sbe.PartyDetailsDefinitionRequestAck519):
            if reply.party_details_list_req_id != entry.id:
                continue
            if reply.party_detail_request_status == 0:
                outcome.status, outcome.detail = "registered", "acknowledged (519)"
            else:
                outcome.status = "rejected"
                outcome.detail = f"519 status {reply.party_detail_request_status}"
                outcome.error = PartyRejectedError(
                    f"party details id {entry.id} rejected by the gateway "
                    f"(PartyDetailRequestStatus {reply.party_detail_request_status})",
                    hint="check the entry's values against CME's rules for 518",
                )
            return
        if isinstance(reply, sbe.BusinessReject521):
            if reply.ref_seq_num not in (None, sent.seq_num) and (
                reply.party_details_list_req_id != entry.id
            ):
                continue
            reason = reply.business_reject_reason
            meaning, hint = reject_codes.explain("business_reject", reason)
            outcome.status = "rejected"
            outcome.detail = f"521 reason {reason} ({meaning}): {reply.text}"
            reused = (
                reason == reject_codes.REUSED_PARTY_ID
                or reply.ref_tag_id == 1505
                or held is not None
            )
            if reused:
                diffs = want.differences(held) if held is not None else []
                shown = "; ".join(diffs) if diffs else "details not reported"
                outcome.error = ReusedPartyIdError(
                    f"party details id {entry.id} is already registered at the gateway with "
                    f"other details ({shown}): {reply.text}",
                    hint="CME rejects a reused PartyDetailsListReqID within the week: give "
                    "the changed entry a new id, or keep the registered details until the "
                    "weekend",
                )
            else:
                outcome.error = PartyRejectedError(
                    f"party details id {entry.id} rejected by the gateway: {reply.text} "
                    f"(BusinessRejectReason {reason}: {meaning})",
                    hint=f"{hint}, then run `ncctl party register` again",
                )
            return
        # anything else (a late 538) is not ours: keep waiting within the timeout


@dataclass
class RegisterResult:
    """The outcome of one ``party register`` run."""

    week: dt.date
    trade_date: dt.date
    dry_run: bool
    gateway: str
    session: str
    firm: str
    outcomes: list[EntryOutcome]
    attempts: int = 0
    uuid: int | None = None
    secret_expires_in_days: int | None = None
    audit_file: str | None = None
    audit_rows: int = 0
    state_db: str | None = None
    warnings: list[str] = field(default_factory=list)
    plan: list[dict[str, Any]] = field(default_factory=list)

    @property
    def failure(self) -> NcctlError | None:
        """The first entry's error, when any entry failed."""
        errors = [o.error for o in self.outcomes if o.error is not None]
        if not errors:
            return None
        if len(errors) == 1:
            return errors[0]
        first = errors[0]
        return type(first)(
            f"{len(errors)} party-details entries failed; first: {first.message}",
            hint=first.hint,
            code=first.code,
        )

    @property
    def ok(self) -> bool:
        return not self.dry_run and all(
            o.status in ("registered", "already_registered") for o in self.outcomes
        )

    def counts(self) -> dict[str, int]:
        out = {"registered": 0, "already_registered": 0, "rejected": 0, "not_sent": 0}
        for o in self.outcomes:
            out[o.status] = out.get(o.status, 0) + 1
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "week": self.week.isoformat(),
            "trade_date": self.trade_date.isoformat(),
            "dry_run": self.dry_run,
            "ok": self.ok,
            "gateway": self.gateway,
            "session": self.session,
            "firm": self.firm,
            "attempts": self.attempts,
            "uuid": self.uuid,
            "counts": self.counts(),
            "entries": [o.as_dict() for o in self.outcomes],
            "plan": self.plan,
            "secret_expires_in_days": self.secret_expires_in_days,
            "audit_file": self.audit_file,
            "audit_rows": self.audit_rows,
            "state_db": self.state_db,
        }


def _expiry_warnings(days: int | None, ilink: IlinkConfig) -> list[str]:
    if days is None or days >= ilink.secret_expiry_warn_days:
        return []
    where = str(ilink.secret_key_file) if ilink.secret_key_file else "ilink.secret_key"
    return [
        f"the iLink secret key expires in {days} day{'s' if days != 1 else ''} "
        f"(SecretKeySecureIDExpiration): request a new one in CME Customer Center and "
        f"update {where}"
    ]


def _require_entries(inputs: PartyInputs) -> None:
    if not inputs.entries:
        raise ConfigError(
            "no [[party_details]] entries are configured: nothing to register or verify",
            hint="add one [[party_details]] table per PartyDetailsListReqID (see docs)",
        )


def register_all(
    inputs: PartyInputs,
    *,
    clock: Clock,
    trade_date: dt.date,
    dry_run: bool = False,
    journal: bool = True,
    sleep: Callable[[float], None] = time.sleep,
) -> RegisterResult:
    """Register every configured entry for the week of ``trade_date`` (see the module doc).

    Returns the result (its :attr:`RegisterResult.failure` set when an entry was rejected);
    raises an :class:`NcctlError` when no session could be had (after the retries for the
    temporary failures). Either way the run is recorded in the state database and the
    journal, unless ``dry_run``.
    """
    _require_entries(inputs)
    ilink = inputs.ilink
    credentials = credentials_for(ilink)  # even a dry run checks the key file
    result = RegisterResult(
        week=week_of(trade_date),
        trade_date=trade_date,
        dry_run=dry_run,
        gateway=f"{ilink.host}:{ilink.port}",
        session=ilink.session,
        firm=ilink.firm,
        outcomes=[EntryOutcome(e) for e in inputs.entries],
        audit_file=str(inputs.audit_path) if inputs.audit_path is not None else None,
    )
    for entry in inputs.entries:
        frame = sbe.encode(definition_request(entry, 1, 0))
        result.plan.append(
            {
                "id": entry.id,
                "message": "PartyDetailsDefinitionRequest (518)",
                "frame_bytes": len(frame),
                "definition": Definition.from_entry(entry).as_dict(),
                "memo": entry.memo,
                "location": entry.location,
            }
        )
    if dry_run:
        return result
    if journal:
        from ncctl.journal import Journal, journal_path

        Journal(journal_path(inputs.state_dir))  # a journal ncctl cannot write stops it here
    db = StateDB(inputs.state_dir)
    result.state_db = str(db.path)
    started = clock.now()
    error: NcctlError | None = None
    try:
        with audit_trail(inputs.audit_path) as writer:
            recorder = AuditRecorder(writer, ilink.session, inputs.entries)
            client = fixp.FixpClient(
                session_params(ilink), credentials, clock=clock, observer=recorder
            )
            try:
                _register_with_retries(client, result, ilink, sleep)
            finally:
                client.close()
                result.audit_rows = recorder.rows
                result.uuid = client.uuid
                result.secret_expires_in_days = client.secret_expires_in_days
    except NcctlError as exc:
        error = exc
    result.warnings = _expiry_warnings(result.secret_expires_in_days, ilink)
    failure = error or result.failure
    db.record(result, started, clock.now(), failure)
    if journal:
        _journal(inputs.state_dir, result, failure)
    if error is not None:
        done = result.counts()
        confirmed = done["registered"] + done["already_registered"]
        if confirmed:
            error.message += f" ({confirmed} of {len(result.outcomes)} entries confirmed before)"
        raise error
    return result


def _register_with_retries(
    client: fixp.FixpClient,
    result: RegisterResult,
    ilink: IlinkConfig,
    sleep: Callable[[float], None],
) -> None:
    for attempt in range(1, ilink.registration_attempts + 1):
        result.attempts = attempt
        try:
            client.connect()
            held = held_definitions(client, ilink.firm)
            for outcome in result.outcomes:
                if outcome.status in ("registered", "already_registered", "rejected"):
                    continue
                have = held.get(outcome.entry.id)
                if have is not None and have == Definition.from_entry(outcome.entry):
                    outcome.status = "already_registered"
                    outcome.detail = "held by the gateway with the same details (538)"
                    continue
                _register_one(client, outcome, have)
            client.terminate()
            return
        except (TemporaryError, UnavailableError):
            client.close()
            if attempt >= ilink.registration_attempts:
                raise
        sleep(ilink.retry_delay_s)


def _journal(state_dir: Path, result: RegisterResult, failure: NcctlError | None) -> None:
    from ncctl.journal import Journal, journal_path

    Journal(journal_path(state_dir)).append(
        "party register",
        {"week": result.week.isoformat(), "ids": [o.entry.id for o in result.outcomes]},
        "ok" if failure is None else "failed",
        details={
            "counts": result.counts(),
            "attempts": result.attempts,
            "gateway": result.gateway,
            "secret_expires_in_days": result.secret_expires_in_days,
            "error": failure.as_dict() if failure is not None else None,
        },
    )


# -- list and verify --------------------------------------------------------------------


@dataclass
class ListResult:
    gateway: str
    firm: str
    definitions: list[Definition]
    secret_expires_in_days: int | None
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "gateway": self.gateway,
            "firm": self.firm,
            "count": len(self.definitions),
            "definitions": [d.as_dict() for d in self.definitions],
            "secret_expires_in_days": self.secret_expires_in_days,
        }


def list_registrations(inputs: PartyInputs, *, clock: Clock) -> ListResult:
    """What the gateway holds for the firm (537 -> 538s), in id order."""
    ilink = inputs.ilink
    credentials = credentials_for(ilink)
    with audit_trail(inputs.audit_path) as writer:
        recorder = AuditRecorder(writer, ilink.session, inputs.entries)
        client = fixp.FixpClient(session_params(ilink), credentials, clock=clock, observer=recorder)
        try:
            client.connect()
            held = held_definitions(client, ilink.firm)
            client.terminate()
        finally:
            client.close()
    days = client.secret_expires_in_days
    return ListResult(
        gateway=f"{ilink.host}:{ilink.port}",
        firm=ilink.firm,
        definitions=[held[k] for k in sorted(held)],
        secret_expires_in_days=days,
        warnings=_expiry_warnings(days, ilink),
    )


@dataclass
class VerifyResult:
    gateway: str
    matching: list[int]
    missing: list[int]
    different: dict[int, list[str]]
    extra: list[int]
    secret_expires_in_days: int | None
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.different or self.extra)

    def failure(self) -> PartyMismatchError | None:
        if self.ok:
            return None
        parts = []
        if self.missing:
            parts.append(f"not at the gateway: {', '.join(map(str, self.missing))}")
        for ident, diffs in self.different.items():
            parts.append(f"id {ident} differs ({'; '.join(diffs)})")
        if self.extra:
            parts.append(f"at the gateway only: {', '.join(map(str, self.extra))}")
        return PartyMismatchError(
            "party details differ between the gateway and the configuration: " + "; ".join(parts),
            hint="`ncctl party register` adds the missing ones; a changed entry needs a new id "
            "until the gateway's week ends",
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "gateway": self.gateway,
            "ok": self.ok,
            "matching": self.matching,
            "missing": self.missing,
            "different": {str(k): v for k, v in self.different.items()},
            "extra": self.extra,
            "secret_expires_in_days": self.secret_expires_in_days,
        }


def verify(inputs: PartyInputs, *, clock: Clock) -> VerifyResult:
    """Compare what the gateway holds with the configuration."""
    _require_entries(inputs)
    listed = list_registrations(inputs, clock=clock)
    held = {d.id: d for d in listed.definitions}
    matching: list[int] = []
    missing: list[int] = []
    different: dict[int, list[str]] = {}
    for entry in inputs.entries:
        want = Definition.from_entry(entry)
        have = held.get(entry.id)
        if have is None:
            missing.append(entry.id)
        elif have == want:
            matching.append(entry.id)
        else:
            different[entry.id] = want.differences(have)
    configured = {e.id for e in inputs.entries}
    extra = sorted(i for i in held if i not in configured)
    return VerifyResult(
        gateway=listed.gateway,
        matching=matching,
        missing=missing,
        different=different,
        extra=extra,
        secret_expires_in_days=listed.secret_expires_in_days,
        warnings=listed.warnings,
    )


# -- state database ---------------------------------------------------------------------

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id INTEGER PRIMARY KEY AUTOINCREMENT,
    week TEXT NOT NULL,
    trade_date TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    ok INTEGER NOT NULL,
    gateway TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    uuid INTEGER,
    registered INTEGER NOT NULL,
    already_registered INTEGER NOT NULL,
    rejected INTEGER NOT NULL,
    not_sent INTEGER NOT NULL,
    secret_expires_in_days INTEGER,
    error_code TEXT,
    error_message TEXT
);
CREATE TABLE IF NOT EXISTS registrations (
    week TEXT NOT NULL,
    id INTEGER NOT NULL,
    trade_date TEXT NOT NULL,
    status TEXT NOT NULL,
    detail TEXT NOT NULL,
    definition TEXT NOT NULL,
    run_id INTEGER NOT NULL REFERENCES runs(run_id),
    updated_at TEXT NOT NULL,
    PRIMARY KEY (week, id)
);
"""


_U64 = 1 << 64
_I64_MAX = (1 << 63) - 1


def id_to_sql(ident: int) -> int:
    """A PartyDetailsListReqID (uInt64, 0..2**64-2) as SQLite's signed 64-bit INTEGER.

    SQLite integers are signed: an id above 2**63-1 is stored as its two's-complement
    reinterpretation (``id - 2**64``, a negative number), exactly and reversibly. Ids below
    2**63, all that earlier versions could store, are unchanged, so an existing database needs
    no migration. Every id written to or read from ``registrations.id`` goes through this pair.
    """
    return ident - _U64 if ident > _I64_MAX else ident


def id_from_sql(value: int) -> int:
    """The PartyDetailsListReqID of a stored ``registrations.id`` (inverse of id_to_sql)."""
    return value + _U64 if value < 0 else value


@dataclass(frozen=True)
class WeekStatus:
    """Whether the week's registration is done for the configured entries."""

    week: dt.date
    registered: bool
    missing: list[int]
    changed: list[int]
    last_run_ok: bool | None
    last_error: str | None
    secret_expires_in_days: int | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "week": self.week.isoformat(),
            "registered": self.registered,
            "missing": self.missing,
            "changed": self.changed,
            "last_run_ok": self.last_run_ok,
            "last_error": self.last_error,
            "secret_expires_in_days": self.secret_expires_in_days,
        }


class StateDB:
    """``STATE_DIR/party.sqlite``: every run, and each id's latest outcome per week."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / STATE_DB_NAME

    def _connect(self, read_only: bool = False) -> sqlite3.Connection:
        """The database, checked (a damaged one is a one-line error naming it, exit 65);
        ``read_only``: opened ``mode=ro``, a missing one reads as empty (nothing created)."""
        from ncctl.statedb import open_state_db

        conn = open_state_db(
            self.path,
            _SCHEMA,
            what="the party-registration database",
            rebuild_hint=f"move it aside (mv {self.path} {self.path}.damaged); the next "
            "`ncctl party register` records the week's registrations again",
            read_only=read_only,
            wal=False,
        )
        conn.isolation_level = "DEFERRED"  # `with conn:` makes one transaction of a run
        return conn

    def record(
        self,
        result: RegisterResult,
        started: dt.datetime,
        finished: dt.datetime,
        failure: NcctlError | None,
    ) -> None:
        counts = result.counts()
        week = result.week.isoformat()
        with closing(self._connect()) as conn, conn:
            cur = conn.execute(
                "INSERT INTO runs (week, trade_date, started_at, finished_at, ok, gateway, "
                "attempts, uuid, registered, already_registered, rejected, not_sent, "
                "secret_expires_in_days, error_code, error_message) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    week,
                    result.trade_date.isoformat(),
                    started.isoformat(),
                    finished.isoformat(),
                    int(failure is None and result.ok),
                    result.gateway,
                    result.attempts,
                    result.uuid,
                    counts["registered"],
                    counts["already_registered"],
                    counts["rejected"],
                    counts["not_sent"],
                    result.secret_expires_in_days,
                    failure.code if failure is not None else None,
                    failure.message if failure is not None else None,
                ),
            )
            run_id = cur.lastrowid
            for o in result.outcomes:
                if o.status == "not_sent":
                    continue
                conn.execute(
                    "INSERT INTO registrations (week, id, trade_date, status, detail, "
                    "definition, run_id, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (week, id) DO UPDATE SET trade_date = excluded.trade_date, "
                    "status = excluded.status, detail = excluded.detail, "
                    "definition = excluded.definition, run_id = excluded.run_id, "
                    "updated_at = excluded.updated_at",
                    (
                        week,
                        id_to_sql(o.entry.id),
                        result.trade_date.isoformat(),
                        o.status,
                        o.detail,
                        json.dumps(Definition.from_entry(o.entry).as_dict(), sort_keys=True),
                        run_id,
                        finished.isoformat(),
                    ),
                )

    def registrations(self, week: dt.date) -> list[dict[str, Any]]:
        """The week's rows: id, status, detail, definition, trade_date, updated_at."""
        with closing(self._connect(read_only=True)) as conn:
            rows = conn.execute(
                "SELECT id, status, detail, definition, trade_date, updated_at "
                "FROM registrations WHERE week = ?",
                (week.isoformat(),),
            ).fetchall()
        out = [
            {
                "id": id_from_sql(r[0]),
                "status": r[1],
                "detail": r[2],
                "definition": json.loads(r[3]),
                "trade_date": r[4],
                "updated_at": r[5],
            }
            for r in rows
        ]
        return sorted(out, key=lambda row: int(row["id"]))

    def week_status(self, week: dt.date, entries: Sequence[PartyDetails]) -> WeekStatus:
        rows = {r["id"]: r for r in self.registrations(week)}
        missing: list[int] = []
        changed: list[int] = []
        for entry in entries:
            row = rows.get(entry.id)
            if row is None or row["status"] not in ("registered", "already_registered"):
                missing.append(entry.id)
            elif row["definition"] != json.loads(
                json.dumps(Definition.from_entry(entry).as_dict(), sort_keys=True)
            ):
                changed.append(entry.id)
        last_ok: bool | None = None
        last_error: str | None = None
        expiry: int | None = None
        with closing(self._connect(read_only=True)) as conn:
            row = conn.execute(
                "SELECT ok, error_message, secret_expires_in_days FROM runs "
                "WHERE week = ? ORDER BY run_id DESC LIMIT 1",
                (week.isoformat(),),
            ).fetchone()
        if row is not None:
            last_ok, last_error, expiry = bool(row[0]), row[1], row[2]
        return WeekStatus(
            week=week,
            registered=bool(entries) and not missing and not changed,
            missing=missing,
            changed=changed,
            last_run_ok=last_ok,
            last_error=last_error,
            secret_expires_in_days=expiry,
        )


def week_status(inputs: PartyInputs, trade_date: dt.date) -> WeekStatus:
    """Whether every configured entry is registered, unchanged, for the week of
    ``trade_date`` (what the runner checks before bringing the order session up)."""
    return StateDB(inputs.state_dir).week_status(week_of(trade_date), inputs.entries)


def order_session_allowed(inputs: PartyInputs, trade_date: dt.date) -> tuple[bool, str]:
    """The ``require_registration`` gate: (allowed, why)."""
    if not inputs.ilink.require_registration:
        return True, "ilink.require_registration is false"
    if not inputs.entries:
        return True, "no [[party_details]] entries are configured"
    status = week_status(inputs, trade_date)
    if status.registered:
        return True, f"party details registered for the week of {status.week.isoformat()}"
    why = []
    if status.missing:
        why.append(f"not registered: {', '.join(map(str, status.missing))}")
    if status.changed:
        why.append(f"changed since registration: {', '.join(map(str, status.changed))}")
    return False, f"week of {status.week.isoformat()}: " + "; ".join(why)
