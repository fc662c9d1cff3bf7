"""The reject and terminate code tables: one per message family, with CME's meanings."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ncctl.ilink import reject_codes
from ncctl.ilink.reject_codes import TABLES, explain

pytestmark = pytest.mark.slow


def test_each_family_reads_its_own_meaning_of_a_shared_code() -> None:
    assert explain("establishment_reject", 10)[0] == (
        "session blocked: session and firm not authorized for this port"
    )
    assert explain("negotiation_reject", 10)[0].startswith("session blocked")
    assert explain("terminate", 10)[0].startswith("invalid NextSeqNo")
    assert explain("establishment_reject", 11)[0].startswith("invalid KeepAliveInterval")
    assert explain("terminate", 11)[0].startswith("invalid MsgSeqNo")
    assert 11 not in reject_codes.NEGOTIATION_REJECT
    for code, field in ((5, "AccessKeyID"), (6, "Session"), (7, "Firm")):
        for family in ("negotiation_reject", "establishment_reject"):
            assert explain(family, code)[0] == f"required {field} missing"


def test_terminate_only_codes_are_not_in_the_reject_tables() -> None:
    assert explain("terminate", 20)[0].startswith("keepalive interval lapsed")
    assert explain("terminate", 22)[0] == "required KeepAliveIntervalLapsed missing"
    for code in (20, 22):
        assert code not in reject_codes.NEGOTIATION_REJECT
        assert code not in reject_codes.ESTABLISHMENT_REJECT


def test_business_reject_reasons() -> None:
    assert explain("business_reject", reject_codes.REUSED_PARTY_ID)[0].startswith(
        "invalid PartyDetailsListReqID"
    )
    assert explain("business_reject", 5)[0] == "required field missing"


@given(st.sampled_from(sorted(TABLES)), st.integers(0, 0xFFFF))
def test_every_code_of_every_family_has_a_meaning_and_a_hint(family: str, code: int) -> None:
    meaning, hint = explain(family, code)  # type: ignore[arg-type]
    assert meaning and hint
    if code not in TABLES[family]:  # type: ignore[index]
        assert meaning == f"{family.replace('_', ' ')} code {code}"
