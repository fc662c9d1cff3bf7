"""The HMAC signatures of FIXP's Negotiate (500) and Establish (503), as iLink 3 asks for them.

CME-1-SHA-256 (docs/design.md §5.2): HMAC-SHA256 keyed with the base64url-decoded secret over
the field values as UTF-8 text (integers in decimal, strings without their NUL padding) joined
by ``\\n`` with no trailing newline; the raw 32-byte digest goes into HMACSignature.
Negotiate signs RequestTimestamp, UUID, Session, Firm; Establish signs those and
TradingSystemName, TradingSystemVersion, TradingSystemVendor, NextSeqNo, KeepAliveInterval.
AccessKeyID is not signed. No error quotes the secret.
"""

from __future__ import annotations

import hashlib
import hmac

from ncctl.ilink import sbe
from ncctl.ilink.credentials import Credentials

HMAC_VERSION = "CME-1-SHA-256"


def negotiate_canonical(request_timestamp: int, uuid: int, session: str, firm: str) -> bytes:
    """The text Negotiate's HMAC covers."""
    return "\n".join((str(request_timestamp), str(uuid), session, firm)).encode("utf-8")


def establish_canonical(
    *,
    request_timestamp: int,
    uuid: int,
    session: str,
    firm: str,
    trading_system_name: str,
    trading_system_version: str,
    trading_system_vendor: str,
    next_seq_no: int,
    keep_alive_interval: int,
) -> bytes:
    """The text Establish's HMAC covers."""
    parts = (
        str(request_timestamp),
        str(uuid),
        session,
        firm,
        trading_system_name,
        trading_system_version,
        trading_system_vendor,
        str(next_seq_no),
        str(keep_alive_interval),
    )
    return "\n".join(parts).encode("utf-8")


def sign(secret: bytes, canonical: bytes) -> bytes:
    """HMAC-SHA256 of ``canonical`` keyed with ``secret``: the raw 32-byte digest."""
    return hmac.new(secret, canonical, hashlib.sha256).digest()


def negotiate_message(
    credentials: Credentials, *, uuid: int, request_timestamp: int, session: str, firm: str
) -> sbe.Negotiate500:
    """A signed Negotiate."""
    signature = sign(
        credentials.secret, negotiate_canonical(request_timestamp, uuid, session, firm)
    )
    return sbe.Negotiate500(
        hmac_signature=signature,
        access_key_id=credentials.access_key_id,
        uuid=uuid,
        request_timestamp=request_timestamp,
        session=session,
        firm=firm,
    )


def establish_message(
    credentials: Credentials,
    *,
    uuid: int,
    request_timestamp: int,
    session: str,
    firm: str,
    trading_system_name: str,
    trading_system_version: str,
    trading_system_vendor: str,
    next_seq_no: int,
    keep_alive_interval: int,
) -> sbe.Establish503:
    """A signed Establish."""
    canonical = establish_canonical(
        request_timestamp=request_timestamp,
        uuid=uuid,
        session=session,
        firm=firm,
        trading_system_name=trading_system_name,
        trading_system_version=trading_system_version,
        trading_system_vendor=trading_system_vendor,
        next_seq_no=next_seq_no,
        keep_alive_interval=keep_alive_interval,
    )
    return sbe.Establish503(
        hmac_signature=sign(credentials.secret, canonical),
        access_key_id=credentials.access_key_id,
        trading_system_name=trading_system_name,
        trading_system_version=trading_system_version,
        trading_system_vendor=trading_system_vendor,
        uuid=uuid,
        request_timestamp=request_timestamp,
        next_seq_no=next_seq_no,
        session=session,
        firm=firm,
        keep_alive_interval=keep_alive_interval,
    )


def negotiate_signature_ok(secret: bytes, msg: sbe.Negotiate500) -> bool:
    """Whether a Negotiate's signature is right for ``secret`` (constant time)."""
    canonical = negotiate_canonical(msg.request_timestamp, msg.uuid, msg.session, msg.firm)
    return hmac.compare_digest(sign(secret, canonical), msg.hmac_signature)


def establish_signature_ok(secret: bytes, msg: sbe.Establish503) -> bool:
    """Whether an Establish's signature is right for ``secret`` (constant time)."""
    canonical = establish_canonical(
        request_timestamp=msg.request_timestamp,
        uuid=msg.uuid,
        session=msg.session,
        firm=msg.firm,
        trading_system_name=msg.trading_system_name,
        trading_system_version=msg.trading_system_version,
        trading_system_vendor=msg.trading_system_vendor,
        next_seq_no=msg.next_seq_no,
        keep_alive_interval=msg.keep_alive_interval,
    )
    return hmac.compare_digest(sign(secret, canonical), msg.hmac_signature)
