"""The iLink 3 credentials: an access key id and a base64url secret (HMAC key).

The secret comes from a key file (``ilink.secret_key_file``) that must not be readable by its
group or by others (mode 0600 or 0400), or, for the development simulator only, from
``ilink.secret_key`` inline. A key file holds either the secret alone on one line, or a TOML
table::

    access_key_id = "AbCdEf0123"     # optional: ilink.access_key_id otherwise
    secret_key = "base64url..."

The secret is never shown: :class:`Credentials` masks it in ``repr`` and errors never quote
it.
"""

from __future__ import annotations

import base64
import binascii
import os
import stat
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from ncctl import floor
from ncctl.ilink.errors import CredentialsError, KeyFilePermissionError


@dataclass(frozen=True)
class Credentials:
    """An access key id and the decoded secret (the HMAC-SHA256 key)."""

    access_key_id: str
    secret: bytes = field(repr=False)

    def __repr__(self) -> str:
        return f"Credentials(access_key_id={self.access_key_id!r}, secret=********)"


def decode_secret(text: str, source: str) -> bytes:
    """The bytes of a base64url secret (padding optional); :class:`CredentialsError`."""
    value = text.strip()
    if not value:
        raise CredentialsError(
            f"{source}: the iLink secret is empty",
            hint="put the base64url secret key from CME Customer Center there",
        )
    alphabet = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=")
    if not set(value) <= alphabet:
        raise CredentialsError(
            f"{source}: the iLink secret is not base64url (it has characters outside "
            "A-Z a-z 0-9 - _)",
            hint="copy the secret key exactly as CME issued it",
        )
    try:
        secret = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise CredentialsError(
            f"{source}: the iLink secret is not valid base64url",
            hint="copy the secret key exactly as CME issued it",
        ) from None
    if not secret:
        raise CredentialsError(f"{source}: the iLink secret decodes to nothing")
    return secret


def check_key_file_mode(path: Path) -> None:
    """Refuse a key file that its group or others may read or write."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise CredentialsError(
            f"{path}: iLink key file not found", hint="check ilink.secret_key_file"
        ) from None
    except PermissionError:
        raise KeyFilePermissionError(
            f"{path}: cannot read the iLink key file (permission denied)",
            hint="run ncctl as the user that owns the key file",
        ) from None
    if not stat.S_ISREG(st.st_mode):
        raise CredentialsError(f"{path}: the iLink key file is not a regular file")
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o077:
        raise KeyFilePermissionError(
            f"{path}: iLink key file has mode {mode:04o}; group or others can access it",
            hint=f"run `chmod 600 {path}`, and rotate the secret if others may have read it",
        )
    if floor.foreign_owner(st):
        raise KeyFilePermissionError(
            f"{path}: iLink key file is owned by uid {st.st_uid}, not by root or this user",
            hint=f"run `chown root {path}`, and rotate the secret if others may have read it",
        )


def read_key_file(path: Path, access_key_id: str | None = None) -> Credentials:
    """Credentials from a key file (mode checked first); ``access_key_id`` is the default
    when the file does not name one."""
    check_key_file_mode(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(fd, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        raise CredentialsError(
            f"{path}: cannot read the iLink key file: {exc.strerror}",
            hint="check the path and that it is not a symbolic link",
        ) from None
    try:
        content = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise CredentialsError(f"{path}: the iLink key file is not UTF-8 text") from None
    key_id = access_key_id
    secret_text = content
    if "=" in content and "secret_key" in content:
        try:
            doc = tomllib.loads(content)
        except tomllib.TOMLDecodeError:
            raise CredentialsError(
                f"{path}: the iLink key file is neither one secret nor a TOML table",
                hint='write `secret_key = "..."` (and optionally `access_key_id = "..."`)',
            ) from None
        unknown = set(doc) - {"secret_key", "access_key_id"}
        if unknown:
            raise CredentialsError(
                f"{path}: unknown key(s) in the iLink key file: {', '.join(sorted(unknown))}",
                hint="only secret_key and access_key_id are read",
            )
        secret_value = doc.get("secret_key")
        if not isinstance(secret_value, str):
            raise CredentialsError(f"{path}: secret_key must be a string")
        secret_text = secret_value
        file_key_id = doc.get("access_key_id")
        if file_key_id is not None:
            if not isinstance(file_key_id, str) or not file_key_id:
                raise CredentialsError(f"{path}: access_key_id must be a non-empty string")
            key_id = file_key_id
    elif len(content.strip().splitlines()) > 1:
        raise CredentialsError(
            f"{path}: the iLink key file has several lines but no secret_key key",
            hint='write the secret alone, or `secret_key = "..."` as TOML',
        )
    if not key_id:
        raise CredentialsError(
            f"{path}: no access key id", hint="set ilink.access_key_id or access_key_id here"
        )
    if len(key_id) > 20 or not key_id.isascii():
        raise CredentialsError(f"{path}: access_key_id must be at most 20 ASCII characters")
    return Credentials(key_id, decode_secret(secret_text, str(path)))


def load_credentials(
    access_key_id: str, secret_key: str | None, secret_key_file: Path | None
) -> Credentials:
    """The credentials a configuration names: the key file first, else the inline secret."""
    if secret_key_file is not None:
        return read_key_file(secret_key_file, access_key_id)
    if secret_key is not None:
        return Credentials(access_key_id, decode_secret(secret_key, "ilink.secret_key"))
    raise CredentialsError(
        "no iLink secret: neither ilink.secret_key_file nor ilink.secret_key is set",
        hint="set ilink.secret_key_file to the key file (mode 0600)",
    )
