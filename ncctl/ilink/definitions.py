"""What a PartyDetailsListReqID (1505) stands for, as configured and as the gateway reports it,
and the PartyDetailsDefinitionRequest (518) that registers it."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from ncctl.ilink import sbe
from ncctl.ilink.section import ROLE_NAMES, PartyDetails

REQUESTING_PARTY_SOURCE = "C"
REQUESTING_PARTY_ROLE = "1"  # executing firm
REQUEST_RESULTS = {
    0: "valid request",
    2: "no data found",
    3: "not authorized to retrieve data",
    4: "data temporarily unavailable",
}


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
