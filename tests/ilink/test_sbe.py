"""The SBE codec: round trips, golden bytes written by hand from the schema, framing errors."""

from __future__ import annotations

import dataclasses
import struct
from typing import Any, TypeVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ncctl.errors import EXIT_DATAERR
from ncctl.ilink import sbe
from ncctl.ilink.errors import SbeError

INT_MAX = {"u8": 0xFF, "u16": 0xFFFF, "u32": 0xFFFF_FFFF, "u64": 0xFFFF_FFFF_FFFF_FFFF}
ASCII = st.characters(min_codepoint=1, max_codepoint=0x7F)
M = TypeVar("M", bound=sbe.Message)


# -- samples built from the layouts -----------------------------------------------------


def _extreme(spec: sbe.FieldSpec, *, nulls: bool) -> Any:
    """The largest value a field can carry, or its null/empty value."""
    if spec.kind in INT_MAX:
        if nulls and spec.optional:
            return None
        top = INT_MAX[spec.kind]
        return top - 1 if spec.optional else top
    if spec.kind == "char":
        return None if nulls and spec.optional else "~"
    if spec.kind == "str":
        return "" if nulls else "Z" * spec.length
    return bytes(range(spec.length)) if not nulls else b"\xff" * spec.length


def sample(cls: type[M], *, nulls: bool, entries: int = 2) -> M:
    spec = cls.SPEC
    values: dict[str, Any] = {f.name: _extreme(f, nulls=nulls) for f in spec.fields}
    for group in spec.groups:
        item = {f.name: _extreme(f, nulls=nulls) for f in group.fields}
        values[group.name] = () if nulls else tuple(group.entry(**item) for _ in range(entries))
    for name in spec.var_data:
        values[name] = b"" if nulls else b"\x00credentials\xff"
    return cls(**values)


def expected_length(msg: sbe.Message) -> int:
    spec = msg.SPEC
    size = sbe.SOFH_SIZE + sbe.HEADER_SIZE + spec.block_length
    for group in spec.groups:
        size += 3 + group.block_length * len(getattr(msg, group.name))
    for name in spec.var_data:
        size += 2 + len(getattr(msg, name))
    return size


CLASSES = list(sbe.MESSAGE_CLASSES)
IDS = [f"{c.SPEC.template_id}-{c.SPEC.name}" for c in CLASSES]


@pytest.mark.parametrize("cls", CLASSES, ids=IDS)
@pytest.mark.parametrize("nulls", [True, False], ids=["nulls-empty", "max-values"])
def test_round_trip_of_every_message(cls: type[sbe.Message], nulls: bool) -> None:
    msg = sample(cls, nulls=nulls)
    frame = sbe.encode(msg)
    assert len(frame) == expected_length(msg)
    length, encoding = struct.unpack_from("<HH", frame, 0)
    assert (length, encoding) == (len(frame), 0xCAFE)
    block, template, schema, version = struct.unpack_from("<HHHH", frame, 4)
    assert (block, template, schema, version) == (cls.SPEC.block_length, cls.SPEC.template_id, 8, 9)
    assert sbe.decode(frame) == msg


def test_the_thirteen_messages_of_the_issue_are_all_there() -> None:
    assert sorted(sbe.MESSAGES) == [
        500,
        501,
        502,
        503,
        504,
        505,
        506,
        507,
        518,
        519,
        521,
        537,
        538,
    ]


def test_null_values_are_the_schemas_on_the_wire() -> None:
    msg = sample(sbe.PartyDetailsDefinitionRequest518, nulls=True)
    frame = sbe.encode(msg)
    block = frame[12:]
    assert block[116:124] == b"\xff" * 8  # SelfMatchPreventionID uInt64NULL
    assert block[124] == 0  # CmtaGiveupCD charNULL
    assert block[125] == 0xFF  # CustOrderCapacity enumNULL
    assert block[131:147] == b"\xff" * 16  # Executor, IDMShortCode
    assert block[21:96] == b"\0" * 75  # an empty Memo is all NUL


def _strategy(spec: sbe.FieldSpec) -> st.SearchStrategy[Any]:
    if spec.kind in INT_MAX:
        top = INT_MAX[spec.kind]
        if spec.optional:
            return st.none() | st.integers(0, top - 1)
        return st.integers(0, top)
    if spec.kind == "char":
        one = st.text(ASCII, min_size=1, max_size=1)
        return st.none() | one if spec.optional else one
    if spec.kind == "str":
        return st.text(ASCII, max_size=spec.length)
    return st.binary(min_size=spec.length, max_size=spec.length)


def message_strategy(cls: type[sbe.Message]) -> st.SearchStrategy[sbe.Message]:
    spec = cls.SPEC
    fields: dict[str, st.SearchStrategy[Any]] = {f.name: _strategy(f) for f in spec.fields}
    for group in spec.groups:
        entry = st.builds(group.entry, **{f.name: _strategy(f) for f in group.fields})
        fields[group.name] = st.lists(entry, max_size=4).map(tuple)
    for name in spec.var_data:
        fields[name] = st.binary(max_size=40)
    return st.builds(cls, **fields)


@pytest.mark.slow
@pytest.mark.parametrize("cls", CLASSES, ids=IDS)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_property_decode_of_encode_is_identity(cls: type[sbe.Message], data: st.DataObject) -> None:
    msg = data.draw(message_strategy(cls))
    assert sbe.decode(sbe.encode(msg)) == msg


# -- golden bytes, written from the schema's offsets (not from the codec) ---------------


def test_golden_negotiate_500() -> None:
    signature = bytes(range(100, 132))
    # 76-byte block: HMACSignature@0 (32), AccessKeyID@32 (20), UUID@52 uint64,
    # RequestTimestamp@60 uint64, Session@68 (3), Firm@71 (5); then Credentials: uint16 0
    block = bytearray(76)
    block[0:32] = signature
    block[32:40] = b"AKID-123"  # the rest of the 20 bytes stays NUL
    struct.pack_into("<Q", block, 52, 1_700_000_000_123_456)
    struct.pack_into("<Q", block, 60, 1_700_000_000_123_456_789)
    block[68:71] = b"ABC"
    block[71:74] = b"F01"  # Firm is 5 bytes: two NULs follow
    body = struct.pack("<HHHH", 76, 500, 8, 9) + bytes(block) + struct.pack("<H", 0)
    expected = struct.pack("<HH", 4 + len(body), 0xCAFE) + body
    assert len(expected) == 90
    assert expected[:4] == bytes([90, 0, 0xFE, 0xCA])

    msg = sbe.Negotiate500(
        hmac_signature=signature,
        access_key_id="AKID-123",
        uuid=1_700_000_000_123_456,
        request_timestamp=1_700_000_000_123_456_789,
        session="ABC",
        firm="F01",
    )
    assert sbe.encode(msg) == expected
    assert sbe.decode(expected) == msg


def test_golden_party_details_definition_request_518() -> None:
    block = bytearray(147)
    struct.pack_into("<Q", block, 0, 1001)  # PartyDetailsListReqID
    struct.pack_into("<Q", block, 8, 1_795_000_000_000_000_001)  # SendingTimeEpoch
    block[16] = ord("A")  # ListUpdateAction
    struct.pack_into("<I", block, 17, 7)  # SeqNum
    block[21:27] = b"desk A"  # Memo (75)
    block[96:116] = b"\0" * 20  # AvgPxGroupID empty
    struct.pack_into("<Q", block, 116, 42)  # SelfMatchPreventionID
    block[124] = 0  # CmtaGiveupCD null
    block[125] = 2  # CustOrderCapacity
    block[126] = 1  # ClearingAccountType
    block[127] = ord("N")  # SelfMatchPreventionInstruction
    block[128] = 0xFF  # AvgPxIndicator null
    block[129] = 0xFF  # ClearingTradePriceType null
    block[130] = ord("H")  # CustOrderHandlingInst
    struct.pack_into("<Q", block, 131, 2**64 - 1)  # Executor null
    struct.pack_into("<Q", block, 139, 2**64 - 1)  # IDMShortCode null
    parties = b""
    for ident, role in ((b"T01", 1), (b"ACC1", 24), (b"NCCTL-OPS", 118)):
        parties += ident.ljust(20, b"\0") + struct.pack("<H", role)
    body = (
        struct.pack("<HHHH", 147, 518, 8, 9)
        + bytes(block)
        + struct.pack("<HB", 22, 3)  # NoPartyDetails: blockLength 22, 3 entries
        + parties
        + struct.pack("<HB", 2, 0)  # NoTrdRegPublications: present though empty
    )
    expected = struct.pack("<HH", 4 + len(body), 0xCAFE) + body
    assert len(expected) == 4 + 8 + 147 + 3 + 66 + 3

    msg = sbe.PartyDetailsDefinitionRequest518(
        party_details_list_req_id=1001,
        sending_time_epoch=1_795_000_000_000_000_001,
        list_update_action="A",
        seq_num=7,
        memo="desk A",
        avg_px_group_id="",
        self_match_prevention_id=42,
        cmta_giveup_cd=None,
        cust_order_capacity=2,
        clearing_account_type=1,
        self_match_prevention_instruction="N",
        avg_px_indicator=None,
        clearing_trade_price_type=None,
        cust_order_handling_inst="H",
        executor=None,
        idm_short_code=None,
        party_details=(
            sbe.PartyDetail("T01", 1),
            sbe.PartyDetail("ACC1", 24),
            sbe.PartyDetail("NCCTL-OPS", 118),
        ),
    )
    assert sbe.encode(msg) == expected
    assert sbe.decode(expected) == msg


def test_empty_groups_keep_their_three_byte_headers() -> None:
    msg = sample(sbe.PartyDetailsListRequest537, nulls=True)
    frame = sbe.encode(msg)
    assert frame[-6:] == struct.pack("<HB", 7, 0) + struct.pack("<HB", 11, 0)
    assert len(frame) == 4 + 8 + 20 + 6


# -- what the decoder tolerates and what it refuses -------------------------------------


def test_shorter_block_of_an_older_version_leaves_new_optional_fields_null() -> None:
    msg = sample(sbe.NegotiationResponse501, nulls=False)
    frame = sbe.encode(msg)
    body = bytearray(frame[4:])
    struct.pack_into("<H", body, 0, 32)  # version 8: no EnvironmentIndicator (offset 32)
    shorter = bytes(body[: 8 + 32]) + bytes(body[8 + 33 :])
    decoded = sbe.decode_body(shorter)
    assert isinstance(decoded, sbe.NegotiationResponse501)
    assert decoded == dataclasses.replace(msg, environment_indicator=None)


def test_longer_block_of_a_newer_version_is_skipped_over() -> None:
    msg = sample(sbe.PartyDetailsListReport538, nulls=False)
    body = bytearray(sbe.encode_body(msg))
    struct.pack_into("<H", body, 0, 93 + 5)
    longer = bytes(body[: 8 + 93]) + b"NEWER" + bytes(body[8 + 93 :])
    assert sbe.decode_body(longer) == msg


def _frame(body: bytes) -> bytes:
    return struct.pack("<HH", 4 + len(body), 0xCAFE) + body


@pytest.mark.parametrize(
    ("frame", "words"),
    [
        (b"\x0c\x00\xbe\xba" + b"\0" * 8, "0xBABE"),
        (b"\x05\x00\xfe\xca\x00", "shorter than SOFH and SBE header"),
        (_frame(struct.pack("<HHHH", 14, 506, 7, 9) + b"\0" * 14), "schema id 7"),
        (_frame(struct.pack("<HHHH", 0, 999, 8, 9)), "template id 999"),
        (_frame(struct.pack("<HHHH", 14, 506, 8, 9) + b"\0" * 10), "truncated"),
        (_frame(struct.pack("<HHHH", 14, 506, 8, 9) + b"\0" * 16), "2 bytes after the end"),
        (_frame(struct.pack("<HHHH", 20, 537, 8, 9) + b"\0" * 20 + b"\x07\x00"), "group header"),
    ],
    ids=["encoding", "short", "schema", "template", "block", "trailing", "group"],
)
def test_malformed_frames_are_data_errors(frame: bytes, words: str) -> None:
    with pytest.raises(SbeError) as info:
        sbe.decode(frame)
    assert words in info.value.message
    assert info.value.exit_code == EXIT_DATAERR
    assert info.value.code == "ilink.sbe.invalid"


def test_sofh_length_must_match_the_frame() -> None:
    frame = sbe.encode(sample(sbe.Sequence506, nulls=True))
    with pytest.raises(SbeError, match="SOFH says 26 bytes, the frame has 27"):
        sbe.decode(frame + b"\0")


def test_non_ascii_and_nul_characters_on_the_wire_are_refused() -> None:
    frame = bytearray(sbe.encode(sample(sbe.Terminate507, nulls=True)))
    frame[12] = 0xE9  # Reason's first byte
    with pytest.raises(SbeError, match="not ASCII"):
        sbe.decode(bytes(frame))
    frame = bytearray(sbe.encode(sample(sbe.PartyDetailsDefinitionRequest518, nulls=True)))
    frame[12 + 16] = 0  # ListUpdateAction is a required CHAR
    with pytest.raises(SbeError, match="required character is NUL"):
        sbe.decode(bytes(frame))


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"reason": "x" * 49}, "49 characters, at most 48"),
        ({"reason": "caf\u00e9"}, "not ASCII"),
        ({"reason": "a\0b"}, "NUL"),
        ({"uuid": -1}, "out of range"),
        ({"uuid": 2**64}, "out of range"),
        ({"error_codes": None}, "required"),
        ({"error_codes": True}, "expected an integer"),
        ({"split_msg": 255}, "null value"),
    ],
)
def test_values_that_cannot_be_encoded_name_the_field(changes: dict[str, Any], words: str) -> None:
    msg = dataclasses.replace(sample(sbe.Terminate507, nulls=True), **changes)
    with pytest.raises(SbeError) as info:
        sbe.encode(msg)
    assert info.value.message.startswith("Terminate.")
    assert words in info.value.message


def test_group_and_raw_limits() -> None:
    base = sample(sbe.PartyDetailsDefinitionRequest518, nulls=True)
    too_many = tuple(sbe.PartyDetail("X", 1) for _ in range(256))
    with pytest.raises(SbeError, match="256 entries, at most 255"):
        sbe.encode(dataclasses.replace(base, party_details=too_many))
    with pytest.raises(SbeError, match=r"party_details\[0\]\.party_detail_id"):
        sbe.encode(dataclasses.replace(base, party_details=(sbe.PartyDetail("X" * 21, 1),)))
    negotiate = sample(sbe.Negotiate500, nulls=True)
    with pytest.raises(SbeError, match="exactly 32 bytes"):
        sbe.encode(dataclasses.replace(negotiate, hmac_signature=b"short"))


def test_frame_reader_reassembles_frames_from_any_chunking() -> None:
    msgs = [sample(c, nulls=n) for c in CLASSES for n in (True, False)]
    stream = b"".join(sbe.encode(m) for m in msgs)
    reader = sbe.FrameReader()
    got: list[sbe.Message] = []
    for i in range(0, len(stream), 7):  # 7-byte chunks split SOFHs and headers
        reader.feed(stream[i : i + 7])
        got.extend(sbe.decode(f) for f in reader.frames())
    assert got == msgs
    assert reader.pending == 0


def test_frame_reader_refuses_a_foreign_encoding_type() -> None:
    reader = sbe.FrameReader()
    reader.feed(b"GET / HTTP/1.1\r\n")
    with pytest.raises(SbeError, match="encoding type"):
        reader.next_frame()


def test_describe_never_shows_the_signature() -> None:
    msg = sample(sbe.Establish503, nulls=False)
    described = sbe.describe(msg)
    assert "hmac_signature" not in described
    assert described["template_id"] == 503
    assert described["message"] == "Establish"
