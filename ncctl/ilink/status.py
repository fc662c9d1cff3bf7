"""Read-only status of party registration, from the registration store (nothing created)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RegistrationStatus:
    """The outcome of the latest weekly party-ID registration run."""

    ok: bool
    last_run: dt.datetime | None = None
    secret_expires_in_days: int | None = None


def registration_status(state_dir: Path) -> RegistrationStatus | None:
    """The latest party-ID registration run recorded in ``state_dir/party.sqlite`` (opened
    read-only, never created); None without a run."""
    from ncctl.ilink.registration_store import RegistrationStore

    latest = RegistrationStore(state_dir).latest_run()
    if latest is None:
        return None
    ok, finished, expiry = latest
    return RegistrationStatus(
        ok=ok,
        last_run=dt.datetime.fromisoformat(str(finished)) if finished else None,
        secret_expires_in_days=int(expiry) if expiry is not None else None,
    )
