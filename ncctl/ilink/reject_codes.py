"""What the gateway's reject and terminate codes mean: one table per message family.

iLink 3 reuses the same tag, ErrorCodes (39012), in NegotiationReject (502),
EstablishmentReject (505) and Terminate (507), but each message has its own list of values
(code 10 is "session blocked" in a reject and "invalid NextSeqNo" in a Terminate), and
BusinessReject (521) has its own BusinessRejectReason (380) list. A code is therefore always
read from the table of the message it came in, through :func:`explain`.

Meanings follow CME Group's public iLink 3 documentation (Client Systems Wiki, section
"iLink 3 Binary Order Entry"), which CME-certified engines implement as published:

* NegotiationReject:
  https://cmegroupclientsite.atlassian.net/wiki/spaces/EPICSANDBOX/pages/457227444/Negotiation+Reject
* EstablishmentReject:
  https://cmegroupclientsite.atlassian.net/wiki/spaces/EPICSANDBOX/pages/46439924/Establishment+Reject
* Terminate:
  https://cmegroupclientsite.atlassian.net/wiki/spaces/EPICSANDBOX/pages/46440124/Terminate
* iLink 3 Business Reject (BusinessRejectReason):
  https://cmegroupclientsite.atlassian.net/wiki/spaces/EPICSANDBOX/pages/46472406

Each entry is (meaning, hint). The gateway's Reason/Text is always shown as well: it is what
CME says; the tables only explain. Codes missing from a table are reported as unknown.
"""

from __future__ import annotations

from typing import Literal

Family = Literal["negotiation_reject", "establishment_reject", "terminate", "business_reject"]

_CREDENTIALS_HINT = (
    "check ilink.access_key_id and the secret in ilink.secret_key_file (CME rotates secrets: "
    "a new one may have been issued)"
)
_CLOCK_HINT = "check that the machine's clock is synchronised (NTP/PTP)"
_REPORT_HINT = "report it: ncctl sent a message CME's gateway does not accept"
_SESSION_HINT = (
    "check ilink.session, ilink.firm and ilink.host/port: the session must be enabled for "
    "this gateway port in CME's Request Center"
)
_RETRY_HINT = "retry in a few seconds"

#: Codes shared by NegotiationReject and EstablishmentReject (both answer a signed request).
_SIGNED_REQUEST: dict[int, tuple[str, str]] = {
    0: ("HMAC not authenticated: the identity is not recognised", _CREDENTIALS_HINT),
    1: ("HMAC component not available (no answer within 5 s)", _RETRY_HINT),
    3: (
        "invalid RequestTimestamp: not greater than the last one, or out of range",
        _CLOCK_HINT,
    ),
    4: ("required HMACSignature missing", _REPORT_HINT),
    5: ("required AccessKeyID missing", "set ilink.access_key_id"),
    6: ("required Session missing", "set ilink.session"),
    7: ("required Firm missing", "set ilink.firm"),
    9: ("required RequestTimestamp missing", _REPORT_HINT),
    10: ("session blocked: session and firm not authorized for this port", _SESSION_HINT),
    12: ("invalid AccessKeyID: contains a non-printable character", "fix ilink.access_key_id"),
    13: ("invalid Session: contains a non-printable character", "fix ilink.session"),
    14: ("invalid Firm: contains a non-printable character", "fix ilink.firm"),
    15: ("volume controls: TPS limit exceeded (reject action)", _RETRY_HINT),
    16: (
        "split message rejected: messages queued by the split-message penalty were rejected",
        _RETRY_HINT,
    ),
    17: ("split message queue: threshold of queued messages reached", _RETRY_HINT),
}

NEGOTIATION_REJECT: dict[int, tuple[str, str]] = {
    **_SIGNED_REQUEST,
    27: (
        "designated backup: the backup may not be used before the designated primary",
        "connect to the primary gateway (ilink.host/port)",
    ),
    28: (
        "negotiate not allowed on the backup while established on the primary",
        "connect to the primary gateway (ilink.host/port)",
    ),
}

ESTABLISHMENT_REJECT: dict[int, tuple[str, str]] = {
    **_SIGNED_REQUEST,
    11: ("invalid KeepAliveInterval: out of range", "check ilink.keepalive_ms"),
}

TERMINATE: dict[int, tuple[str, str]] = {
    0: ("finished: the session is being terminated", "nothing to do"),
    1: (
        "establishment timeout: no Establish within 60 s of the NegotiationResponse",
        "retry",
    ),
    2: ("unnegotiated: a message was sent before the session was negotiated", "retry"),
    3: ("not established: a message was sent before the session was established", "retry"),
    4: ("already negotiated: the Negotiate was redundant", _REPORT_HINT),
    5: ("negotiation in progress: the previous Negotiate is still being processed", "retry"),
    6: ("already established: the Establish was redundant", _REPORT_HINT),
    7: ("establish in progress: the previous Establish is still being processed", "retry"),
    8: (
        "CME administered port closure: too many Negotiate/Establish attempts",
        "call CME Global Command Center before trying again",
    ),
    9: ("volume controls: TPS limit exceeded (logout action)", "retry later"),
    10: (
        "invalid NextSeqNo: not greater than the last one for this UUID, or out of range",
        "the sequence state was lost; a new UUID is negotiated on the next attempt",
    ),
    11: (
        "invalid MsgSeqNo: lower than the last one used for this UUID, or out of range",
        _REPORT_HINT,
    ),
    12: ("invalid LastSeqNo: lower than the last one used for this UUID", _REPORT_HINT),
    13: (
        "invalid UUID: does not match the current one, or not greater than the last one",
        "the machine's clock may have stepped back; check NTP",
    ),
    14: ("invalid timestamp: does not match CME's RequestTimestamp, or out of range", _CLOCK_HINT),
    15: ("required UUID missing", _REPORT_HINT),
    16: ("required RequestTimestamp missing", _REPORT_HINT),
    17: ("required Code missing", _REPORT_HINT),
    18: ("invalid SOFH: bad message length or encoding type", _REPORT_HINT),
    19: ("decoding error: the message could not be decoded", _REPORT_HINT),
    20: (
        "keepalive interval lapsed without any message from us",
        "retry; check that nothing stalls ncctl or the network",
    ),
    21: ("required NextSeqNo missing", _REPORT_HINT),
    22: ("required KeepAliveIntervalLapsed missing", _REPORT_HINT),
    23: ("other error", "see the gateway's reason text"),
    24: ("terminate in progress: the previous Terminate is still being processed", "retry"),
    26: ("disconnect or terminate on the primary: the backup is terminated too", "retry"),
    28: (
        "split messages queued by the split-message penalty were rejected at terminate",
        "retry",
    ),
}

BUSINESS_REJECT: dict[int, tuple[str, str]] = {
    0: ("other", "see the gateway's text"),
    1: ("unknown ID: the PartyDetailsListReqID referenced is not registered", "register it"),
    2: ("unknown security", "check the instrument"),
    3: ("unsupported message type", _REPORT_HINT),
    5: ("required field missing", "fix the [[party_details]] entry"),
    6: ("not authorized", _SESSION_HINT),
    8: ("throttle limit exceeded (volume controls)", "retry later"),
    100: ("value is incorrect (out of range) for a tag", "fix the [[party_details]] entry"),
    101: ("incorrect data format for a value", "fix the [[party_details]] entry"),
    108: (
        "invalid PartyDetailsListReqID: already in use",
        "give the entry a new id, or keep the registered details until the weekend",
    ),
    109: ("the message could not be decoded", _REPORT_HINT),
    110: ("the same repeating-group entry appears more than once", "fix the entry's roles"),
    111: (
        "exceeded the maximum number of Party Details Definition Requests",
        "ask CME about the firm's limit",
    ),
    112: ("technical error registering party details", _RETRY_HINT),
    115: ("enum value not supported", "fix the [[party_details]] entry"),
}

TABLES: dict[Family, dict[int, tuple[str, str]]] = {
    "negotiation_reject": NEGOTIATION_REJECT,
    "establishment_reject": ESTABLISHMENT_REJECT,
    "terminate": TERMINATE,
    "business_reject": BUSINESS_REJECT,
}

#: Terminate codes after which the UUID must be negotiated afresh.
TERMINATE_RENEGOTIATE = frozenset({2, 10, 13})
#: BusinessRejectReason of a PartyDetailsListReqID already registered.
REUSED_PARTY_ID = 108


def explain(family: Family, code: int) -> tuple[str, str]:
    """(meaning, hint) of ``code`` in ``family``'s table; unknown codes say so."""
    found = TABLES[family].get(code)
    if found is not None:
        return found
    what = family.replace("_", " ")
    return f"{what} code {code}", "see CME's iLink 3 documentation for this code"
