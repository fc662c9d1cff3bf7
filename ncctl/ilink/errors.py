"""The errors of the iLink 3 client, each with a stable ``code`` (see :mod:`ncctl.errors`).

=================================  ====  ===============================================
code                               exit  when
=================================  ====  ===============================================
``ilink.sbe.invalid``              65    a message cannot be encoded or a frame decoded
``ilink.protocol``                 65    the gateway sent something the protocol forbids
``ilink.credentials``              78    no secret configured, or it is not base64url
``ilink.key_file.permissions``     77    the key file is readable by group or others
``ilink.connect_failed``           69    the gateway does not accept a connection
``ilink.timeout``                  75    no answer within ``response_timeout_s``
``ilink.connection_lost``          75    the gateway closed the connection
``ilink.terminated``               75    the gateway sent Terminate (507)
``ilink.negotiation_rejected``     77    NegotiationReject (502): credentials, session...
``ilink.establishment_rejected``   1     EstablishmentReject (505)
``ilink.party.rejected``           1     a definition was rejected (519 status, 521)
``ilink.party.reused_id``          1     the 1505 id is already registered, differently
``ilink.party.mismatch``           1     ``party verify``: gateway and config differ
=================================  ====  ===============================================
"""

from __future__ import annotations

from ncctl.errors import (
    ConfigError,
    DataError,
    PermissionDeniedError,
    RefusedError,
    TemporaryError,
    UnavailableError,
)


class SbeError(DataError):
    """A message that cannot be encoded, or bytes that are not a valid frame."""

    default_code = "ilink.sbe.invalid"


class ProtocolError(DataError):
    """The gateway broke the protocol (unexpected message, wrong sequence number...)."""

    default_code = "ilink.protocol"


class CredentialsError(ConfigError):
    """The iLink credentials are missing or malformed (the secret itself is never shown)."""

    default_code = "ilink.credentials"


class KeyFilePermissionError(PermissionDeniedError):
    """The key file can be read by its group or by others."""

    default_code = "ilink.key_file.permissions"


class GatewayUnavailableError(UnavailableError):
    """No TCP connection to the gateway."""

    default_code = "ilink.connect_failed"


class ResponseTimeoutError(TemporaryError):
    """The gateway did not answer in time."""

    default_code = "ilink.timeout"


class ConnectionLostError(TemporaryError):
    """The connection closed under us."""

    default_code = "ilink.connection_lost"


class TerminatedError(TemporaryError):
    """The gateway ended the session with Terminate (507)."""

    default_code = "ilink.terminated"


class NegotiationRejectedError(PermissionDeniedError):
    """NegotiationReject (502): the gateway refused the credentials or the session."""

    default_code = "ilink.negotiation_rejected"


class EstablishmentRejectedError(RefusedError):
    """EstablishmentReject (505)."""

    default_code = "ilink.establishment_rejected"


class PartyRejectedError(RefusedError):
    """A party-details definition was rejected by the gateway."""

    default_code = "ilink.party.rejected"


class ReusedPartyIdError(RefusedError):
    """The PartyDetailsListReqID (1505) is already registered with other details."""

    default_code = "ilink.party.reused_id"


class PartyMismatchError(RefusedError):
    """What the gateway holds differs from the configuration."""

    default_code = "ilink.party.mismatch"
