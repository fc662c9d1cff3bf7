"""SBE codec of the iLink 3 messages ncctl speaks, with their framing.

Written from CME's iLink 3 schema (``package="iLinkBinary" id="8" version="9"``,
``byteOrder="littleEndian"``); every offset below is the schema's explicit ``offset``.

Frame layout (docs/design.md §5.2)::

    SOFH    uint16 message length (the whole frame, SOFH included), uint16 0xCAFE
    header  uint16 blockLength, uint16 templateId, uint16 schemaId (8), uint16 version (9)
    block   blockLength bytes of fixed fields at their schema offsets
    groups  per repeating group: uint16 blockLength, uint8 numInGroup, then the entries;
            the 3-byte group header is present even when the group is empty
    data    per var-data field (Credentials): uint16 length, then the bytes

Values:

* integers are little-endian unsigned; an optional one (``uInt64NULL``, ``enumNULL``...) is
  ``None`` in Python and its schema ``nullValue`` on the wire, so the null value itself
  cannot be sent as a value;
* fixed-length strings are ASCII, NUL padded; an empty string is all NULs (the schema's
  "absent"); a string cannot hold a NUL;
* a ``charNULL`` enum (``CustOrderHandlingInst`` ...) is ``None`` or one character, a ``CHAR``
  one character;
* ``HMACSignature`` is the raw 32-byte digest (``bytes``), not text;
* constant fields (``CustomerFlow``, ``HMACVersion``, ``PartyDetailIDSource``...) are not on
  the wire and not in the Python classes;
* enum values are not checked here (a newer gateway may send values this schema version
  does not list): the session and party layers judge them.

Decoding follows the header's ``blockLength`` (and each group's): a shorter block leaves
the missing optional fields ``None`` (a missing required field is an error); a longer block
is skipped over. A frame with bytes after its last part is an error.
"""

from __future__ import annotations

import dataclasses
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from ncctl.ilink.errors import SbeError

SCHEMA_ID = 8
SCHEMA_VERSION = 9
SOFH_ENCODING = 0xCAFE
SOFH = struct.Struct("<HH")
HEADER = struct.Struct("<HHHH")
GROUP_HEADER = struct.Struct("<HB")
VAR_LENGTH = struct.Struct("<H")
SOFH_SIZE = SOFH.size
HEADER_SIZE = HEADER.size
MAX_FRAME = 0xFFFF

Kind = Literal["u8", "u16", "u32", "u64", "char", "str", "raw"]
_INT_STRUCT = {
    "u8": struct.Struct("<B"),
    "u16": struct.Struct("<H"),
    "u32": struct.Struct("<I"),
    "u64": struct.Struct("<Q"),
}
_INT_MAX = {"u8": 0xFF, "u16": 0xFFFF, "u32": 0xFFFF_FFFF, "u64": 0xFFFF_FFFF_FFFF_FFFF}


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One fixed field: where it sits in its block and how it is encoded.

    ``optional`` integers use ``null`` (the schema's nullValue); an optional ``char`` uses 0.
    """

    name: str
    offset: int
    kind: Kind
    length: int = 1
    optional: bool = False
    null: int | None = None

    @property
    def size(self) -> int:
        if self.kind in ("str", "raw"):
            return self.length
        if self.kind == "char":
            return 1
        return _INT_STRUCT[self.kind].size


def _u(kind: Kind, name: str, offset: int, null: int | None = None) -> FieldSpec:
    return FieldSpec(name, offset, kind, optional=null is not None, null=null)


def u8(name: str, offset: int) -> FieldSpec:
    return _u("u8", name, offset)


def u8n(name: str, offset: int) -> FieldSpec:
    """``uInt8NULL`` / ``enumNULL``: null 255."""
    return _u("u8", name, offset, 0xFF)


def u16(name: str, offset: int) -> FieldSpec:
    return _u("u16", name, offset)


def u16n(name: str, offset: int) -> FieldSpec:
    return _u("u16", name, offset, 0xFFFF)


def u32(name: str, offset: int) -> FieldSpec:
    return _u("u32", name, offset)


def u32n(name: str, offset: int) -> FieldSpec:
    return _u("u32", name, offset, 0xFFFF_FFFF)


def u64(name: str, offset: int) -> FieldSpec:
    return _u("u64", name, offset)


def u64n(name: str, offset: int) -> FieldSpec:
    return _u("u64", name, offset, 0xFFFF_FFFF_FFFF_FFFF)


def string(name: str, offset: int, length: int) -> FieldSpec:
    """A fixed-length, NUL-padded ASCII string."""
    return FieldSpec(name, offset, "str", length)


def char(name: str, offset: int, *, optional: bool = False) -> FieldSpec:
    """One character: ``CHAR`` (required) or ``charNULL`` (optional, null 0)."""
    return FieldSpec(name, offset, "char", optional=optional, null=0 if optional else None)


def raw(name: str, offset: int, length: int) -> FieldSpec:
    """Raw bytes of a fixed length (the HMAC signature)."""
    return FieldSpec(name, offset, "raw", length)


@dataclass(frozen=True, slots=True)
class GroupSpec:
    """A repeating group: its attribute name, entry block length and entry class."""

    name: str
    block_length: int
    fields: tuple[FieldSpec, ...]
    entry: type[Any]


@dataclass(frozen=True, slots=True)
class MessageSpec:
    """A message: template id, block length, fields, groups and var-data, in wire order."""

    name: str
    template_id: int
    block_length: int
    fields: tuple[FieldSpec, ...]
    groups: tuple[GroupSpec, ...] = ()
    var_data: tuple[str, ...] = ()


# -- repeating-group entries ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PartyDetail:
    """NoPartyDetails (1671) entry: PartyDetailID (1691) in a PartyDetailRole (1693)."""

    party_detail_id: str
    party_detail_role: int


@dataclass(frozen=True, slots=True)
class TrdRegPublication:
    """NoTrdRegPublications (2668) entry."""

    trd_reg_publication_type: int
    trd_reg_publication_reason: int


@dataclass(frozen=True, slots=True)
class RequestingParty:
    """NoRequestingPartyIDs (1657) entry of a PartyDetailsListRequest."""

    requesting_party_id: str
    requesting_party_id_source: str
    requesting_party_role: str


@dataclass(frozen=True, slots=True)
class PartyId:
    """NoPartyIDs (453) entry of a PartyDetailsListRequest: a 1505 id asked for."""

    party_id: int
    party_id_source: str
    party_role: int


PARTY_DETAILS = GroupSpec(
    "party_details",
    22,
    (string("party_detail_id", 0, 20), u16("party_detail_role", 20)),
    PartyDetail,
)
TRD_REG_PUBLICATIONS = GroupSpec(
    "trd_reg_publications",
    2,
    (u8("trd_reg_publication_type", 0), u8("trd_reg_publication_reason", 1)),
    TrdRegPublication,
)
REQUESTING_PARTY_IDS = GroupSpec(
    "requesting_party_ids",
    7,
    (
        string("requesting_party_id", 0, 5),
        char("requesting_party_id_source", 5),
        char("requesting_party_role", 6),
    ),
    RequestingParty,
)
PARTY_IDS = GroupSpec(
    "party_ids",
    11,
    (u64("party_id", 0), char("party_id_source", 8), u16("party_role", 9)),
    PartyId,
)


# -- messages ---------------------------------------------------------------------------


class Message:
    """Base of every message class; ``SPEC`` says how it is laid out."""

    SPEC: ClassVar[MessageSpec]

    @property
    def template_id(self) -> int:
        return self.SPEC.template_id

    @property
    def name(self) -> str:
        return self.SPEC.name


@dataclass(frozen=True, slots=True)
class Negotiate500(Message):
    hmac_signature: bytes
    access_key_id: str
    uuid: int
    request_timestamp: int
    session: str
    firm: str
    credentials: bytes = b""

    SPEC: ClassVar[MessageSpec] = MessageSpec(
        "Negotiate",
        500,
        76,
        (
            raw("hmac_signature", 0, 32),
            string("access_key_id", 32, 20),
            u64("uuid", 52),
            u64("request_timestamp", 60),
            string("session", 68, 3),
            string("firm", 71, 5),
        ),
        var_data=("credentials",),
    )


@dataclass(frozen=True, slots=True)
class NegotiationResponse501(Message):
    uuid: int
    request_timestamp: int
    secret_key_secure_id_expiration: int | None
    fault_tolerance_indicator: int | None
    split_msg: int | None
    previous_seq_no: int
    previous_uuid: int
    environment_indicator: int | None
    credentials: bytes = b""

    SPEC: ClassVar[MessageSpec] = MessageSpec(
        "NegotiationResponse",
        501,
        33,
        (
            u64("uuid", 0),
            u64("request_timestamp", 8),
            u16n("secret_key_secure_id_expiration", 16),
            u8n("fault_tolerance_indicator", 18),
            u8n("split_msg", 19),
            u32("previous_seq_no", 20),
            u64("previous_uuid", 24),
            u8n("environment_indicator", 32),
        ),
        var_data=("credentials",),
    )


@dataclass(frozen=True, slots=True)
class NegotiationReject502(Message):
    reason: str
    uuid: int
    request_timestamp: int
    error_codes: int
    fault_tolerance_indicator: int | None
    split_msg: int | None
    environment_indicator: int | None

    SPEC: ClassVar[MessageSpec] = MessageSpec(
        "NegotiationReject",
        502,
        69,
        (
            string("reason", 0, 48),
            u64("uuid", 48),
            u64("request_timestamp", 56),
            u16("error_codes", 64),
            u8n("fault_tolerance_indicator", 66),
            u8n("split_msg", 67),
            u8n("environment_indicator", 68),
        ),
    )


@dataclass(frozen=True, slots=True)
class Establish503(Message):
    hmac_signature: bytes
    access_key_id: str
    trading_system_name: str
    trading_system_version: str
    trading_system_vendor: str
    uuid: int
    request_timestamp: int
    next_seq_no: int
    session: str
    firm: str
    keep_alive_interval: int
    credentials: bytes = b""

    SPEC: ClassVar[MessageSpec] = MessageSpec(
        "Establish",
        503,
        132,
        (
            raw("hmac_signature", 0, 32),
            string("access_key_id", 32, 20),
            string("trading_system_name", 52, 30),
            string("trading_system_version", 82, 10),
            string("trading_system_vendor", 92, 10),
            u64("uuid", 102),
            u64("request_timestamp", 110),
            u32("next_seq_no", 118),
            string("session", 122, 3),
            string("firm", 125, 5),
            u16("keep_alive_interval", 130),
        ),
        var_data=("credentials",),
    )


@dataclass(frozen=True, slots=True)
class EstablishmentAck504(Message):
    uuid: int
    request_timestamp: int
    next_seq_no: int
    previous_seq_no: int
    previous_uuid: int
    keep_alive_interval: int
    secret_key_secure_id_expiration: int | None
    fault_tolerance_indicator: int | None
    split_msg: int | None
    environment_indicator: int | None

    SPEC: ClassVar[MessageSpec] = MessageSpec(
        "EstablishmentAck",
        504,
        39,
        (
            u64("uuid", 0),
            u64("request_timestamp", 8),
            u32("next_seq_no", 16),
            u32("previous_seq_no", 20),
            u64("previous_uuid", 24),
            u16("keep_alive_interval", 32),
            u16n("secret_key_secure_id_expiration", 34),
            u8n("fault_tolerance_indicator", 36),
            u8n("split_msg", 37),
            u8n("environment_indicator", 38),
        ),
    )


@dataclass(frozen=True, slots=True)
class EstablishmentReject505(Message):
    reason: str
    uuid: int
    request_timestamp: int
    next_seq_no: int
    error_codes: int
    fault_tolerance_indicator: int | None
    split_msg: int | None
    environment_indicator: int | None

    SPEC: ClassVar[MessageSpec] = MessageSpec(
        "EstablishmentReject",
        505,
        73,
        (
            string("reason", 0, 48),
            u64("uuid", 48),
            u64("request_timestamp", 56),
            u32("next_seq_no", 64),
            u16("error_codes", 68),
            u8n("fault_tolerance_indicator", 70),
            u8n("split_msg", 71),
            u8n("environment_indicator", 72),
        ),
    )


@dataclass(frozen=True, slots=True)
class Sequence506(Message):
    uuid: int
    next_seq_no: int
    fault_tolerance_indicator: int | None
    keep_alive_interval_lapsed: int

    SPEC: ClassVar[MessageSpec] = MessageSpec(
        "Sequence",
        506,
        14,
        (
            u64("uuid", 0),
            u32("next_seq_no", 8),
            u8n("fault_tolerance_indicator", 12),
            u8("keep_alive_interval_lapsed", 13),
        ),
    )


@dataclass(frozen=True, slots=True)
class Terminate507(Message):
    reason: str
    uuid: int
    request_timestamp: int
    error_codes: int
    split_msg: int | None

    SPEC: ClassVar[MessageSpec] = MessageSpec(
        "Terminate",
        507,
        67,
        (
            string("reason", 0, 48),
            u64("uuid", 48),
            u64("request_timestamp", 56),
            u16("error_codes", 64),
            u8n("split_msg", 66),
        ),
    )


@dataclass(frozen=True, slots=True)
class BusinessReject521(Message):
    seq_num: int
    uuid: int
    text: str
    sender_id: str
    party_details_list_req_id: int | None
    sending_time_epoch: int
    business_reject_ref_id: int | None
    location: str
    ref_seq_num: int | None
    ref_tag_id: int | None
    business_reject_reason: int
    ref_msg_type: str
    poss_retrans_flag: int
    manual_order_indicator: int | None
    split_msg: int | None

    SPEC: ClassVar[MessageSpec] = MessageSpec(
        "BusinessReject",
        521,
        330,
        (
            u32("seq_num", 0),
            u64("uuid", 4),
            string("text", 12, 256),
            string("sender_id", 268, 20),
            u64n("party_details_list_req_id", 288),
            u64("sending_time_epoch", 296),
            u64n("business_reject_ref_id", 304),
            string("location", 312, 5),
            u32n("ref_seq_num", 317),
            u16n("ref_tag_id", 321),
            u16("business_reject_reason", 323),
            string("ref_msg_type", 325, 2),
            u8("poss_retrans_flag", 327),
            u8n("manual_order_indicator", 328),
            u8n("split_msg", 329),
        ),
    )


@dataclass(frozen=True, slots=True)
class PartyDetailsDefinitionRequest518(Message):
    party_details_list_req_id: int
    sending_time_epoch: int
    list_update_action: str
    seq_num: int
    memo: str
    avg_px_group_id: str
    self_match_prevention_id: int | None
    cmta_giveup_cd: str | None
    cust_order_capacity: int | None
    clearing_account_type: int | None
    self_match_prevention_instruction: str | None
    avg_px_indicator: int | None
    clearing_trade_price_type: int | None
    cust_order_handling_inst: str | None
    executor: int | None
    idm_short_code: int | None
    party_details: tuple[PartyDetail, ...] = ()
    trd_reg_publications: tuple[TrdRegPublication, ...] = ()

    SPEC: ClassVar[MessageSpec] = MessageSpec(
        "PartyDetailsDefinitionRequest",
        518,
        147,
        (
            u64("party_details_list_req_id", 0),
            u64("sending_time_epoch", 8),
            char("list_update_action", 16),
            u32("seq_num", 17),
            string("memo", 21, 75),
            string("avg_px_group_id", 96, 20),
            u64n("self_match_prevention_id", 116),
            char("cmta_giveup_cd", 124, optional=True),
            u8n("cust_order_capacity", 125),
            u8n("clearing_account_type", 126),
            char("self_match_prevention_instruction", 127, optional=True),
            u8n("avg_px_indicator", 128),
            u8n("clearing_trade_price_type", 129),
            char("cust_order_handling_inst", 130, optional=True),
            u64n("executor", 131),
            u64n("idm_short_code", 139),
        ),
        groups=(PARTY_DETAILS, TRD_REG_PUBLICATIONS),
    )


@dataclass(frozen=True, slots=True)
class PartyDetailsDefinitionRequestAck519(Message):
    seq_num: int
    uuid: int
    memo: str
    avg_px_group_id: str
    party_details_list_req_id: int
    sending_time_epoch: int
    self_match_prevention_id: int | None
    party_detail_request_status: int
    cust_order_capacity: int | None
    clearing_account_type: int | None
    self_match_prevention_instruction: str | None
    avg_px_indicator: int | None
    clearing_trade_price_type: int | None
    cmta_giveup_cd: str | None
    cust_order_handling_inst: str | None
    list_update_action: str
    party_detail_definition_status: int
    executor: int | None
    idm_short_code: int | None
    poss_retrans_flag: int
    split_msg: int | None
    party_details: tuple[PartyDetail, ...] = ()
    trd_reg_publications: tuple[TrdRegPublication, ...] = ()

    SPEC: ClassVar[MessageSpec] = MessageSpec(
        "PartyDetailsDefinitionRequestAck",
        519,
        159,
        (
            u32("seq_num", 0),
            u64("uuid", 4),
            string("memo", 12, 75),
            string("avg_px_group_id", 87, 20),
            u64("party_details_list_req_id", 107),
            u64("sending_time_epoch", 115),
            u64n("self_match_prevention_id", 123),
            u8("party_detail_request_status", 131),
            u8n("cust_order_capacity", 132),
            u8n("clearing_account_type", 133),
            char("self_match_prevention_instruction", 134, optional=True),
            u8n("avg_px_indicator", 135),
            u8n("clearing_trade_price_type", 136),
            char("cmta_giveup_cd", 137, optional=True),
            char("cust_order_handling_inst", 138, optional=True),
            char("list_update_action", 139),
            u8("party_detail_definition_status", 140),
            u64n("executor", 141),
            u64n("idm_short_code", 149),
            u8("poss_retrans_flag", 157),
            u8n("split_msg", 158),
        ),
        groups=(PARTY_DETAILS, TRD_REG_PUBLICATIONS),
    )


@dataclass(frozen=True, slots=True)
class PartyDetailsListRequest537(Message):
    party_details_list_req_id: int
    sending_time_epoch: int
    seq_num: int
    requesting_party_ids: tuple[RequestingParty, ...] = ()
    party_ids: tuple[PartyId, ...] = ()

    SPEC: ClassVar[MessageSpec] = MessageSpec(
        "PartyDetailsListRequest",
        537,
        20,
        (
            u64("party_details_list_req_id", 0),
            u64("sending_time_epoch", 8),
            u32("seq_num", 16),
        ),
        groups=(REQUESTING_PARTY_IDS, PARTY_IDS),
    )


@dataclass(frozen=True, slots=True)
class PartyDetailsListReport538(Message):
    seq_num: int
    uuid: int
    avg_px_group_id: str
    party_details_list_req_id: int
    party_details_list_report_id: int
    sending_time_epoch: int
    self_match_prevention_id: int | None
    tot_num_parties: int
    request_result: int
    last_fragment: int
    cust_order_capacity: int | None
    clearing_account_type: int | None
    self_match_prevention_instruction: str | None
    avg_px_indicator: int | None
    clearing_trade_price_type: int | None
    cmta_giveup_cd: str | None
    cust_order_handling_inst: str | None
    executor: int | None
    idm_short_code: int | None
    poss_retrans_flag: int
    split_msg: int | None
    party_details: tuple[PartyDetail, ...] = ()
    trd_reg_publications: tuple[TrdRegPublication, ...] = ()

    SPEC: ClassVar[MessageSpec] = MessageSpec(
        "PartyDetailsListReport",
        538,
        93,
        (
            u32("seq_num", 0),
            u64("uuid", 4),
            string("avg_px_group_id", 12, 20),
            u64("party_details_list_req_id", 32),
            u64("party_details_list_report_id", 40),
            u64("sending_time_epoch", 48),
            u64n("self_match_prevention_id", 56),
            u16("tot_num_parties", 64),
            u8("request_result", 66),
            u8("last_fragment", 67),
            u8n("cust_order_capacity", 68),
            u8n("clearing_account_type", 69),
            char("self_match_prevention_instruction", 70, optional=True),
            u8n("avg_px_indicator", 71),
            u8n("clearing_trade_price_type", 72),
            char("cmta_giveup_cd", 73, optional=True),
            char("cust_order_handling_inst", 74, optional=True),
            u64n("executor", 75),
            u64n("idm_short_code", 83),
            u8("poss_retrans_flag", 91),
            u8n("split_msg", 92),
        ),
        groups=(PARTY_DETAILS, TRD_REG_PUBLICATIONS),
    )


MESSAGE_CLASSES: tuple[type[Message], ...] = (
    Negotiate500,
    NegotiationResponse501,
    NegotiationReject502,
    Establish503,
    EstablishmentAck504,
    EstablishmentReject505,
    Sequence506,
    Terminate507,
    PartyDetailsDefinitionRequest518,
    PartyDetailsDefinitionRequestAck519,
    BusinessReject521,
    PartyDetailsListRequest537,
    PartyDetailsListReport538,
)
MESSAGES: dict[int, type[Message]] = {cls.SPEC.template_id: cls for cls in MESSAGE_CLASSES}
"""Message class by template id."""


def _check_classes() -> None:
    """Each class's attributes are exactly its spec's fields, groups and var data."""
    for cls in MESSAGE_CLASSES:
        spec = cls.SPEC
        wanted = [f.name for f in spec.fields] + [g.name for g in spec.groups]
        wanted += list(spec.var_data)
        have = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
        if sorted(have) != sorted(wanted):  # pragma: no cover - a programming error
            raise AssertionError(f"{cls.__name__}: attributes {have} but layout {wanted}")
        for f in spec.fields:
            if f.offset + f.size > spec.block_length:  # pragma: no cover
                raise AssertionError(f"{cls.__name__}.{f.name} overflows the block")


_check_classes()


# -- encoding ---------------------------------------------------------------------------


def _put(buf: bytearray, base: int, spec: FieldSpec, value: object, where: str) -> None:
    at = base + spec.offset
    if spec.kind in ("u8", "u16", "u32", "u64"):
        if value is None:
            if not spec.optional:
                raise SbeError(f"{where}: required, got None")
            value = spec.null
        elif not isinstance(value, int) or isinstance(value, bool):
            raise SbeError(f"{where}: expected an integer, got {type(value).__name__}")
        elif not 0 <= value <= _INT_MAX[spec.kind]:
            raise SbeError(f"{where}: {value} is out of range for {spec.kind}")
        elif spec.optional and value == spec.null:
            raise SbeError(f"{where}: {value} is the null value; use None")
        _INT_STRUCT[spec.kind].pack_into(buf, at, value)
    elif spec.kind == "char":
        if value is None:
            if not spec.optional:
                raise SbeError(f"{where}: required, got None")
            buf[at] = 0
            return
        if not isinstance(value, str) or len(value) != 1:
            raise SbeError(f"{where}: expected one character, got {value!r}")
        code = ord(value)
        if code == 0 or code > 0x7F:
            raise SbeError(f"{where}: {value!r} is not a printable ASCII character")
        buf[at] = code
    elif spec.kind == "str":
        if not isinstance(value, str):
            raise SbeError(f"{where}: expected a string, got {type(value).__name__}")
        try:
            data = value.encode("ascii")
        except UnicodeEncodeError:
            raise SbeError(f"{where}: {value!r} is not ASCII") from None
        if b"\0" in data:
            raise SbeError(f"{where}: a string cannot hold a NUL")
        if len(data) > spec.length:
            raise SbeError(f"{where}: {len(data)} characters, at most {spec.length}")
        buf[at : at + len(data)] = data  # the rest stays NUL
    else:  # raw
        if not isinstance(value, bytes) or len(value) != spec.length:
            raise SbeError(f"{where}: expected exactly {spec.length} bytes")
        buf[at : at + spec.length] = value


def encode_body(msg: Message) -> bytes:
    """The SBE message header, block, groups and var data of ``msg`` (no SOFH)."""
    spec = msg.SPEC
    block = bytearray(spec.block_length)
    for f in spec.fields:
        _put(block, 0, f, getattr(msg, f.name), f"{spec.name}.{f.name}")
    out = bytearray(HEADER.pack(spec.block_length, spec.template_id, SCHEMA_ID, SCHEMA_VERSION))
    out += block
    for group in spec.groups:
        entries = getattr(msg, group.name)
        if not isinstance(entries, tuple):
            raise SbeError(f"{spec.name}.{group.name}: expected a tuple of entries")
        if len(entries) > 0xFF:
            raise SbeError(f"{spec.name}.{group.name}: {len(entries)} entries, at most 255")
        out += GROUP_HEADER.pack(group.block_length, len(entries))
        for i, entry in enumerate(entries):
            if not isinstance(entry, group.entry):
                raise SbeError(f"{spec.name}.{group.name}[{i}]: not a {group.entry.__name__}")
            item = bytearray(group.block_length)
            for f in group.fields:
                where = f"{spec.name}.{group.name}[{i}].{f.name}"
                _put(item, 0, f, getattr(entry, f.name), where)
            out += item
    for name in spec.var_data:
        data = getattr(msg, name)
        if not isinstance(data, bytes) or len(data) > 0xFFFF:
            raise SbeError(f"{spec.name}.{name}: expected at most 65535 bytes")
        out += VAR_LENGTH.pack(len(data)) + data
    return bytes(out)


def encode(msg: Message) -> bytes:
    """One whole frame: SOFH, then :func:`encode_body`."""
    body = encode_body(msg)
    total = SOFH_SIZE + len(body)
    if total > MAX_FRAME:
        raise SbeError(f"{msg.SPEC.name}: frame of {total} bytes exceeds {MAX_FRAME}")
    return SOFH.pack(total, SOFH_ENCODING) + body


# -- decoding ---------------------------------------------------------------------------


def _get(data: memoryview, base: int, avail: int, spec: FieldSpec, where: str) -> object:
    if spec.offset + spec.size > avail:  # beyond the block the sender wrote
        if spec.optional:
            return None
        if spec.kind == "str":
            return ""
        raise SbeError(f"{where}: the block of {avail} bytes does not hold this field")
    at = base + spec.offset
    if spec.kind in ("u8", "u16", "u32", "u64"):
        value: int = _INT_STRUCT[spec.kind].unpack_from(data, at)[0]
        return None if spec.optional and value == spec.null else value
    if spec.kind == "char":
        code = data[at]
        if code == 0:
            if spec.optional:
                return None
            raise SbeError(f"{where}: required character is NUL")
        if code > 0x7F:
            raise SbeError(f"{where}: byte 0x{code:02x} is not ASCII")
        return chr(code)
    chunk = bytes(data[at : at + spec.size])
    if spec.kind == "raw":
        return chunk
    head = chunk.split(b"\0", 1)[0]
    try:
        return head.decode("ascii")
    except UnicodeDecodeError:
        raise SbeError(f"{where}: string is not ASCII") from None


def _need(body: memoryview, pos: int, size: int, what: str) -> None:
    if pos + size > len(body):
        raise SbeError(f"{what}: truncated ({len(body) - pos} bytes left, {size} needed)")


def decode_body(body: bytes | memoryview) -> Message:
    """Decode an SBE message (header first, no SOFH)."""
    view = memoryview(body)
    _need(view, 0, HEADER_SIZE, "message header")
    block_length, template_id, schema_id, _version = HEADER.unpack_from(view, 0)
    if schema_id != SCHEMA_ID:
        raise SbeError(f"schema id {schema_id}, expected {SCHEMA_ID} (iLink 3)")
    cls = MESSAGES.get(template_id)
    if cls is None:
        raise SbeError(f"template id {template_id} is not one ncctl decodes")
    spec = cls.SPEC
    pos = HEADER_SIZE
    _need(view, pos, block_length, spec.name)
    values: dict[str, object] = {}
    for f in spec.fields:
        values[f.name] = _get(view, pos, block_length, f, f"{spec.name}.{f.name}")
    pos += block_length
    for group in spec.groups:
        where = f"{spec.name}.{group.name}"
        _need(view, pos, GROUP_HEADER.size, f"{where} group header")
        entry_length, count = GROUP_HEADER.unpack_from(view, pos)
        pos += GROUP_HEADER.size
        _need(view, pos, entry_length * count, where)
        entries = []
        for i in range(count):
            item = {
                f.name: _get(view, pos, entry_length, f, f"{where}[{i}].{f.name}")
                for f in group.fields
            }
            entries.append(group.entry(**item))
            pos += entry_length
        values[group.name] = tuple(entries)
    for name in spec.var_data:
        _need(view, pos, VAR_LENGTH.size, f"{spec.name}.{name} length")
        (length,) = VAR_LENGTH.unpack_from(view, pos)
        pos += VAR_LENGTH.size
        _need(view, pos, length, f"{spec.name}.{name}")
        values[name] = bytes(view[pos : pos + length])
        pos += length
    if pos != len(view):
        raise SbeError(f"{spec.name}: {len(view) - pos} bytes after the end of the message")
    return cls(**values)


def decode(frame: bytes | memoryview) -> Message:
    """Decode one whole frame (SOFH included); its length must match the SOFH."""
    view = memoryview(frame)
    length = check_sofh(view)
    if length != len(view):
        raise SbeError(f"SOFH says {length} bytes, the frame has {len(view)}")
    return decode_body(view[SOFH_SIZE:])


def check_sofh(data: bytes | memoryview) -> int:
    """The frame length a SOFH announces, after checking it (``data`` starts with it)."""
    if len(data) < SOFH_SIZE:
        raise SbeError("SOFH: fewer than 4 bytes")
    length, encoding = SOFH.unpack_from(data, 0)
    if encoding != SOFH_ENCODING:
        raise SbeError(f"SOFH: encoding type 0x{encoding:04X}, expected 0xCAFE (SBE 1.0 LE)")
    if length < SOFH_SIZE + HEADER_SIZE:
        raise SbeError(f"SOFH: message length {length} is shorter than SOFH and SBE header")
    return int(length)


class FrameReader:
    """Splits a byte stream into whole frames (TCP delivers bytes, not messages)."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> None:
        self._buf += data

    @property
    def pending(self) -> int:
        """Bytes received that are not yet a whole frame."""
        return len(self._buf)

    def next_frame(self) -> bytes | None:
        """The next complete frame, or None; :class:`SbeError` on a bad SOFH."""
        if len(self._buf) < SOFH_SIZE:
            return None
        length = check_sofh(bytes(self._buf[:SOFH_SIZE]))
        if len(self._buf) < length:
            return None
        frame = bytes(self._buf[:length])
        del self._buf[:length]
        return frame

    def frames(self) -> Iterator[bytes]:
        """Every complete frame received so far; :class:`SbeError` on a bad SOFH."""
        while (frame := self.next_frame()) is not None:
            yield frame


def describe(msg: Message) -> dict[str, Any]:
    """A message as plain data for logs and JSON (the HMAC signature never included)."""
    out: dict[str, Any] = {"template_id": msg.SPEC.template_id, "message": msg.SPEC.name}
    for f in dataclasses.fields(msg):  # type: ignore[arg-type]
        if f.name in ("hmac_signature", "credentials"):
            continue
        value = getattr(msg, f.name)
        if isinstance(value, tuple):
            value = [dataclasses.asdict(v) for v in value]
        out[f.name] = value
    return out
