"""TLS files (the ``[metrics]`` certificate, key and client CA): checked before use, and the
server context made from them.

The files must exist as regular files (a symbolic link is not followed), the key readable by
its owner only, and none of them writable by group or others. An encrypted key is refused
(nothing prompts for a passphrase). Every error names its key (``metrics.tls_cert``, ...).
"""

from __future__ import annotations

import os
import ssl
import stat
from pathlib import Path
from typing import Protocol

from ncctl.errors import ConfigError


class TlsFiles(Protocol):
    """Where the files are (``[metrics]``'s ``MetricsTls``)."""

    @property
    def cert(self) -> Path: ...
    @property
    def key(self) -> Path: ...
    @property
    def client_ca(self) -> Path | None: ...


def check_file(key: str, path: Path, *, private: bool) -> None:
    """Refuse a TLS file that is missing, a link, not a regular file, writable by group or
    others, or (``private``: the key) readable by them: ConfigError naming ``metrics.KEY``."""
    name = f"metrics.{key}"
    try:
        info = os.lstat(path)
    except OSError as exc:
        raise ConfigError(
            f"{name}: cannot read {path}: {exc.strerror or exc}",
            hint="see docs/runbook.md (Telemetry certificates) for how to make the files",
            code="metrics.tls",
        ) from None
    if stat.S_ISLNK(info.st_mode):
        raise ConfigError(
            f"{name}: {path} is a symbolic link; ncctl does not follow links for TLS files",
            hint=f"point {name} at the file itself",
            code="metrics.tls",
        )
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError(
            f"{name}: {path} is not a regular file",
            hint=f"point {name} at a PEM file",
            code="metrics.tls",
        )
    mode = stat.S_IMODE(info.st_mode)
    if private and mode & 0o077:
        raise ConfigError(
            f"{name}: {path} is accessible by group or others (mode {mode:04o}); a private "
            "key must be private",
            hint=f"chmod 600 {path}",
            code="metrics.tls",
        )
    if mode & 0o022:
        raise ConfigError(
            f"{name}: {path} is writable by group or others (mode {mode:04o})",
            hint=f"chmod go-w {path}",
            code="metrics.tls",
        )


def _no_password() -> bytes:
    return b""  # an encrypted key fails to load instead of prompting on the terminal


def tls_context(tls: TlsFiles) -> ssl.SSLContext:
    """A server context from the checked files (TLS 1.2 or later; client certificates
    required when ``tls.client_ca`` is set)."""
    check_file("tls_cert", tls.cert, private=False)
    check_file("tls_key", tls.key, private=True)
    if tls.client_ca is not None:
        check_file("tls_client_ca", tls.client_ca, private=False)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(tls.cert, tls.key, password=_no_password)
    except (ssl.SSLError, OSError) as exc:
        raise ConfigError(
            f"metrics.tls_cert, metrics.tls_key: cannot use {tls.cert} with {tls.key}: "
            f"{_reason(exc)}",
            hint="tls_cert must be a PEM certificate and tls_key its unencrypted PEM private "
            "key (see docs/runbook.md)",
            code="metrics.tls",
        ) from None
    if tls.client_ca is not None:
        try:
            context.load_verify_locations(cafile=tls.client_ca)
        except (ssl.SSLError, OSError) as exc:
            raise ConfigError(
                f"metrics.tls_client_ca: cannot use {tls.client_ca}: {_reason(exc)}",
                hint="tls_client_ca must hold the PEM certificate of the CA that signs the "
                "scrapers' client certificates",
                code="metrics.tls",
            ) from None
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLError) and exc.reason:
        return str(exc.reason).lower().replace("_", " ")
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__
