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

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ncctl.clock import Clock
from ncctl.errors import NcctlError, TemporaryError, UnavailableError
from ncctl.ilink import fixp, reject_codes, sbe
from ncctl.ilink.audit_recorder import AuditRecorder, audit_trail
from ncctl.ilink.definitions import Definition, definition_request
from ncctl.ilink.errors import PartyRejectedError, ReusedPartyIdError
from ncctl.ilink.party_inputs import PartyInputs, credentials_for, session_params, week_of
from ncctl.ilink.party_lookup import expiry_warnings, held_definitions, require_entries
from ncctl.ilink.registration_store import RegistrationStore
from ncctl.ilink.section import IlinkConfig, PartyDetails

Status = str  # registered | already_registered | rejected | not_sent


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
    require_entries(inputs)
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
    db = RegistrationStore(inputs.state_dir)
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
    result.warnings = expiry_warnings(result.secret_expires_in_days, ilink)
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
