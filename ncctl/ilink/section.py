"""Configuration models of the iLink 3 session and of the party details to register.

:class:`IlinkConfig` is the ``[ilink]`` table and :data:`PartyDetailsList` the
``[[party_details]]`` array of tables (:mod:`ncctl.appconfig.model` gathers them with the other
sections)::

    [ilink]
    host = "127.0.0.1"
    port = 29000
    session = "DEV"                 # SenderCompID's session part, 3 characters
    firm = "D01"                    # 5 characters at most
    access_key_id = "..."           # or in the key file
    secret_key_file = "/etc/ncctl/keys/ilink_secret"   # mode 0600 or stricter
    require_registration = true     # no order session in a week without registration

    [[party_details]]
    id = 1001                       # PartyDetailsListReqID, tag 1505
    executing_firm = "D01"          # PartyDetailRole 1
    account = "ACCT1"               # PartyDetailRole 24
    operator = "NCCTL-OPS"          # PartyDetailRole 118
    location = "US,IL"              # tag 9537 (orders and the audit trail)
    customer_type_indicator = 2     # tag 582 CustOrderCapacity: 1-4
    clearing_account_type = 1       # tag 1816: 0 customer, 1 firm
    customer_order_handling = "H"   # tag 1031: C D G H W Y
    smp_id = 42                     # tag 2362, optional
    smp_instruction = "N"           # tag 8000: N newest, O oldest; optional
    avg_px_group_id = "G1"          # tag 1731, optional (with avg_px_indicator 1 or 3)
    memo = "desk A"                 # tag 5149, optional

Strings are ASCII (CME's fields are), printable, within the schema's lengths.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, SecretStr, model_validator

from ncctl.config.paths import ConfigPath
from ncctl.config.section import NonEmpty, Port, Section

_PRINTABLE = re.compile(r"^[\x20-\x7e]*$")


def _ascii(value: str) -> str:
    if not _PRINTABLE.match(value):
        raise ValueError("must be printable ASCII (CME's fields are ASCII)")
    return value


Str3 = Annotated[str, Field(min_length=1, max_length=3), AfterValidator(_ascii)]
Str5 = Annotated[str, Field(min_length=1, max_length=5), AfterValidator(_ascii)]
Str10 = Annotated[str, Field(min_length=1, max_length=10), AfterValidator(_ascii)]
Str20 = Annotated[str, Field(min_length=1, max_length=20), AfterValidator(_ascii)]
Str30 = Annotated[str, Field(min_length=1, max_length=30), AfterValidator(_ascii)]
Str75 = Annotated[str, Field(min_length=1, max_length=75), AfterValidator(_ascii)]
Operator = Annotated[str, Field(pattern=r"^[A-Za-z0-9_\-:@.+]{1,18}$")]
"""An operator id (PartyDetailRole 118, tag 5392) as the audit trail's Operator ID accepts it."""

#: the largest PartyDetailsListReqID: uInt64 (2**64 - 1 is the null of the optional uses)
MAX_LIST_REQ_ID = 2**64 - 2
#: SelfMatchPreventionID is uInt64NULL: 2**64 - 1 is its null value
MAX_SMP_ID = 2**64 - 2


class IlinkConfig(Section):
    """The iLink 3 session (the gateway is a simulator in dev) and party registration.

    Credentials: ``secret_key_file`` (preferred; it must not be group or world readable)
    holds either the base64url secret alone, or a TOML table with ``secret_key`` and
    optionally ``access_key_id``; otherwise ``secret_key`` inline (dev only).
    """

    host: NonEmpty = "127.0.0.1"
    port: Port = 29000
    session: Str3 = "NCS"
    firm: Str5 = "NCF"
    access_key_id: Str20 = "dev-access-key"
    secret_key: SecretStr | None = None
    secret_key_file: ConfigPath | None = None
    trading_system_name: Str30 = "ncctl"
    trading_system_version: Str10 = "0.1"
    trading_system_vendor: Str10 = "ncctl"
    keepalive_ms: int = Field(default=30000, ge=1000, le=60000)
    connect_timeout_s: float = Field(default=5.0, gt=0, le=120)
    response_timeout_s: float = Field(default=5.0, gt=0, le=120)
    registration_attempts: int = Field(default=3, ge=1, le=20)
    retry_delay_s: float = Field(default=1.0, ge=0, le=60)
    secret_expiry_warn_days: int = Field(default=14, ge=0, le=365)
    require_registration: bool = True


class PartyDetails(Section):
    """One ``[[party_details]]`` entry: what a PartyDetailsListReqID (1505) stands for."""

    id: int = Field(ge=1, le=MAX_LIST_REQ_ID)
    executing_firm: Str20
    operator: Operator
    account: Str20 | None = None
    take_up_firm: Str20 | None = None
    take_up_account: Str20 | None = None
    location: Str5 | None = None
    customer_type_indicator: Literal[1, 2, 3, 4]
    clearing_account_type: Literal[0, 1]
    customer_order_handling: Literal["C", "D", "G", "H", "W", "Y"]
    smp_id: int | None = Field(default=None, ge=1, le=MAX_SMP_ID)
    smp_instruction: Literal["N", "O"] | None = None
    avg_px_group_id: Str20 | None = None
    avg_px_indicator: Literal[0, 1, 3] | None = None
    clearing_trade_price_type: Literal[0, 1] | None = None
    cmta_giveup: Literal["G", "S"] | None = None
    memo: Str75 | None = None

    @model_validator(mode="after")
    def _consistent(self) -> PartyDetails:
        if self.smp_instruction is not None and self.smp_id is None:
            raise ValueError("smp_instruction needs smp_id")
        if self.avg_px_indicator in (1, 3) and self.avg_px_group_id is None:
            raise ValueError("avg_px_indicator 1 or 3 needs avg_px_group_id")
        if self.cmta_giveup == "G" and (self.take_up_firm is None or self.take_up_account is None):
            raise ValueError("cmta_giveup G (give-up) needs take_up_firm and take_up_account")
        return self

    def roles(self) -> dict[int, str]:
        """PartyDetailRole (1693) -> PartyDetailID (1691), in role order."""
        pairs = {
            1: self.executing_firm,
            24: self.account,
            96: self.take_up_firm,
            118: self.operator,
            1000: self.take_up_account,
        }
        return {role: value for role, value in pairs.items() if value is not None}


def _unique_ids(entries: list[PartyDetails]) -> list[PartyDetails]:
    seen: set[int] = set()
    for i, entry in enumerate(entries):
        if entry.id in seen:
            raise ValueError(f"[{i}].id {entry.id} is used by an earlier entry")
        seen.add(entry.id)
    return entries


PartyDetailsList = Annotated[list[PartyDetails], AfterValidator(_unique_ids)]
"""The ``[[party_details]]`` array: ids unique across entries."""

ROLE_NAMES: dict[int, str] = {
    1: "executing_firm",
    24: "account",
    96: "take_up_firm",
    118: "operator",
    1000: "take_up_account",
}
"""PartyDetailRole (1693) values of schema version 9, by the config key they come from."""
