"""What the gateway holds for the firm (PartyDetailsListRequest 537, answered by
PartyDetailsListReport 538s): ``party list``, and ``party verify`` against the configuration."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ncctl.clock import Clock
from ncctl.errors import ConfigError, TemporaryError
from ncctl.ilink import fixp, sbe
from ncctl.ilink.audit_recorder import AuditRecorder, audit_trail
from ncctl.ilink.definitions import (
    REQUEST_RESULTS,
    REQUESTING_PARTY_ROLE,
    REQUESTING_PARTY_SOURCE,
    Definition,
)
from ncctl.ilink.errors import PartyMismatchError, PartyRejectedError, ProtocolError
from ncctl.ilink.party_inputs import PartyInputs, credentials_for, session_params
from ncctl.ilink.section import IlinkConfig


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


def expiry_warnings(days: int | None, ilink: IlinkConfig) -> list[str]:
    if days is None or days >= ilink.secret_expiry_warn_days:
        return []
    where = str(ilink.secret_key_file) if ilink.secret_key_file else "ilink.secret_key"
    return [
        f"the iLink secret key expires in {days} day{'s' if days != 1 else ''} "
        f"(SecretKeySecureIDExpiration): request a new one in CME Customer Center and "
        f"update {where}"
    ]


def require_entries(inputs: PartyInputs) -> None:
    if not inputs.entries:
        raise ConfigError(
            "no [[party_details]] entries are configured: nothing to register or verify",
            hint="add one [[party_details]] table per PartyDetailsListReqID (see docs)",
        )


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
        warnings=expiry_warnings(days, ilink),
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
    require_entries(inputs)
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
