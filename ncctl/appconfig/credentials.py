"""Secrets handed over by systemd (``LoadCredential=``, systemd.exec(5)).

The generated units load the iLink secret and each SFTP destination's private key as
credentials: systemd reads them as root before the sandbox is set up and places copies,
readable by the service's user only, in ``$CREDENTIALS_DIRECTORY``. When that variable is set,
the configuration's key paths are replaced by those copies, so that the key files themselves
can stay unreadable to the dedicated user (and behind ``ProtectHome=``).

A credential is only used when it is a regular file there (never through a symbolic link);
otherwise the configured path stays as it is.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping
from pathlib import Path

from ncctl.appconfig.model import NcctlConfig

ENV = "CREDENTIALS_DIRECTORY"
ILINK_SECRET = "ncctl-ilink-secret"  # noqa: S105 (a credential name)
_VALID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,200}")


def destination_credential(name: str) -> str | None:
    """The credential name of destination ``name``'s key; None if ``name`` cannot be one."""
    return f"ncctl-sftp-{name}" if _VALID.fullmatch(name) else None


def _regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def with_credentials(config: NcctlConfig, environ: Mapping[str, str] | None = None) -> NcctlConfig:
    """``config`` with key paths pointing into ``$CREDENTIALS_DIRECTORY`` where systemd put
    the credential; ``config`` itself when the variable is unset or names no credential."""
    directory = (os.environ if environ is None else environ).get(ENV, "")
    if not directory or not Path(directory).is_absolute():
        return config
    base = Path(directory)
    update: dict[str, object] = {}
    secret = base / ILINK_SECRET
    if _regular(secret):
        update["ilink"] = config.ilink.model_copy(update={"secret_key_file": secret})
    destinations = dict(config.destinations)
    for name, dest in config.destinations.items():
        credential = destination_credential(name)
        if credential is not None and dest.key_file is not None and _regular(base / credential):
            destinations[name] = dest.model_copy(update={"key_file": base / credential})
    if destinations != config.destinations:
        update["destinations"] = destinations
    return config.model_copy(update=update) if update else config
