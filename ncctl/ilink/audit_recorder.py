"""The audit trail of the party commands: one row per iLink message sent or received (CME's
columns, the party-details ones included)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from ncctl.errors import CantCreateError, ConfigError
from ncctl.ilink import fixp, sbe
from ncctl.ilink.audit_trail import MESSAGE_TYPES, AuditRow, AuditTrailWriter, Cell
from ncctl.ilink.definitions import REQUEST_RESULTS
from ncctl.ilink.section import PartyDetails


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
