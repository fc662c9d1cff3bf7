"""HMAC signatures (CME-1-SHA-256): known answers computed here with hashlib from the
canonical strings of docs/design.md §5.2, independent of the client's code."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac

from ncctl.ilink import fixp_signatures, sbe
from ncctl.ilink.credentials import Credentials, decode_secret

SECRET_B64URL = "c2VjcmV0LWtleS1mb3ItdGhlLWtub3duLWFuc3dlcl8_Pz8-Pj4"  # has - and _, no =
SECRET = base64.urlsafe_b64decode(SECRET_B64URL + "=" * (-len(SECRET_B64URL) % 4))
CREDS = Credentials("AKID-XYZ", SECRET)
UUID = 1_795_304_211_356_803
STAMP = 1_795_304_211_356_803_123


def test_the_secret_uses_the_url_safe_alphabet() -> None:
    assert "-" in SECRET_B64URL and "_" in SECRET_B64URL
    assert decode_secret(SECRET_B64URL, "test") == SECRET
    assert decode_secret(SECRET_B64URL + "=", "test") == SECRET  # padding is optional


def test_negotiate_signature_known_answer() -> None:
    canonical = "1795304211356803123\n1795304211356803\nTST\nT01"
    expected = hmac.new(SECRET, canonical.encode(), hashlib.sha256).digest()
    msg = fixp_signatures.negotiate_message(
        CREDS, uuid=UUID, request_timestamp=STAMP, session="TST", firm="T01"
    )
    assert msg.hmac_signature == expected
    frame = sbe.encode(msg)
    assert frame[12:44] == expected  # the raw 32-byte digest at offset 0 of the block
    assert fixp_signatures.negotiate_signature_ok(SECRET, msg)


def test_establish_signature_known_answer() -> None:
    canonical = "\n".join(
        [
            "1795304211356803123",
            "1795304211356803",
            "TST",
            "T01",
            "ncctl",
            "0.1",
            "NCVendor",
            "17",
            "30000",
        ]
    )
    expected = hmac.new(SECRET, canonical.encode(), hashlib.sha256).digest()
    msg = fixp_signatures.establish_message(
        CREDS,
        uuid=UUID,
        request_timestamp=STAMP,
        session="TST",
        firm="T01",
        trading_system_name="ncctl",
        trading_system_version="0.1",
        trading_system_vendor="NCVendor",
        next_seq_no=17,
        keep_alive_interval=30000,
    )
    assert msg.hmac_signature == expected
    assert sbe.encode(msg)[12:44] == expected
    assert fixp_signatures.establish_signature_ok(SECRET, msg)


def test_no_trailing_newline_and_no_nul_padding_in_the_canonical_text() -> None:
    text = fixp_signatures.negotiate_canonical(STAMP, UUID, "AB", "F1")
    assert text == b"1795304211356803123\n1795304211356803\nAB\nF1"


def test_a_changed_signed_field_fails_but_the_access_key_is_not_signed() -> None:
    msg = fixp_signatures.negotiate_message(
        CREDS, uuid=UUID, request_timestamp=STAMP, session="TST", firm="T01"
    )
    assert not fixp_signatures.negotiate_signature_ok(SECRET, dataclasses.replace(msg, firm="T02"))
    assert not fixp_signatures.negotiate_signature_ok(
        SECRET, dataclasses.replace(msg, uuid=UUID + 1)
    )
    assert not fixp_signatures.negotiate_signature_ok(b"another secret", msg)
    assert fixp_signatures.negotiate_signature_ok(
        SECRET, dataclasses.replace(msg, access_key_id="OTHER")
    )
