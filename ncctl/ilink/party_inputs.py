"""What the party commands need from the configuration: ``[ilink]``, ``[[party_details]]``,
the state directory and the audit trail; the FIXP session and credentials they make."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from ncctl.ilink import fixp
from ncctl.ilink.credentials import Credentials, load_credentials
from ncctl.ilink.section import IlinkConfig, PartyDetails


@dataclass(frozen=True)
class PartyInputs:
    """Everything the party commands need from the configuration."""

    ilink: IlinkConfig
    entries: tuple[PartyDetails, ...]
    state_dir: Path
    audit_path: Path | None


def session_params(ilink: IlinkConfig) -> fixp.SessionParams:
    return fixp.SessionParams(
        host=ilink.host,
        port=ilink.port,
        session=ilink.session,
        firm=ilink.firm,
        trading_system_name=ilink.trading_system_name,
        trading_system_version=ilink.trading_system_version,
        trading_system_vendor=ilink.trading_system_vendor,
        keepalive_ms=ilink.keepalive_ms,
        connect_timeout_s=ilink.connect_timeout_s,
        response_timeout_s=ilink.response_timeout_s,
    )


def credentials_for(ilink: IlinkConfig) -> Credentials:
    secret = ilink.secret_key.get_secret_value() if ilink.secret_key is not None else None
    return load_credentials(ilink.access_key_id, secret, ilink.secret_key_file)


def week_of(trade_date: dt.date) -> dt.date:
    """The Sunday that starts the trading week of ``trade_date``."""
    return trade_date - dt.timedelta(days=(trade_date.weekday() + 1) % 7)
