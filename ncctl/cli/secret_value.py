"""Secrets for ``ncctl config set``: recognised by key name, read from stdin or a hidden prompt.

A value on the command line is visible to every local user in ``ps`` and lands in shell
history, so a secret is never taken from argv: ``config set KEY -`` reads it from stdin (one
line; the trailing newline is dropped), and ``config set KEY`` on a terminal asks for it twice
without echo.
"""

from __future__ import annotations

import os
import re
import stat
import sys
from pathlib import Path
from typing import Any

from ncctl.errors import ConfigError, UsageError

STDIN = "-"
MAX_BYTES = 64 * 1024
"""The largest secret read from stdin (an iLink secret key is 44 characters)."""
READ_TIMEOUT_S = 30.0
"""How long stdin may stay silent and open before ``config set KEY -`` gives up."""

_SECRET_WORDS = re.compile(
    r"(^|[_-])(password|passwd|passphrase|secret|secret_key|token|api_key|private_key|"
    r"credentials?)$",
    re.IGNORECASE,
)
"""A key whose last part ends with one of these words holds a secret (``DB_PASSWORD``)."""


def is_secret_key(key: str) -> bool:
    """Whether ``key`` (dotted) names a secret: a secret field of the configuration models
    (``ilink.secret_key``) or any key whose name says it is one (``env.DB_PASSWORD``)."""
    from ncctl.appconfig.model import NcctlConfig
    from ncctl.config.masking import MASK, mask_value

    last = key.rsplit(".", 1)[-1]
    return mask_value(NcctlConfig, key, "x") == MASK or bool(_SECRET_WORDS.search(last))


def secret_inside(key: str, value: Any) -> str | None:
    """The key of a secret that ``value`` set at ``key`` is or holds (``ilink.secret_key``
    for a table with secret_key set at ``ilink``), or None."""
    if is_secret_key(key):
        return key
    items: list[tuple[str, Any]] = []
    if isinstance(value, dict):
        items = [(f"{key}.{k}", v) for k, v in value.items()]
    elif isinstance(value, list):
        items = [(key, v) for v in value]
    for sub_key, sub_value in items:
        found = secret_inside(sub_key, sub_value)
        if found is not None:
            return found
    return None


def refuse_on_command_line(key: str, secret_key: str) -> UsageError:
    where = secret_key if key == secret_key else f"{key}: {secret_key}"
    return UsageError(
        f"{where} is a secret: it is never taken from the command line (ps and shell "
        "history show it to others)",
        hint=f"pipe it in: `printf '%s\\n' \"$SECRET\" | ncctl config set {secret_key} -`, or run "
        f"`ncctl config set {secret_key}` on a terminal and type it at the hidden prompt; "
        "nothing was written",
        code="usage.secret_on_command_line",
    )


def check_private(path: Path) -> None:
    """Refuse to write a secret into a configuration file every user may read."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return  # set_value reports an unreadable file itself
    if mode & 0o007:
        raise ConfigError(
            f"{path}: readable by every user (mode {mode:04o}); a secret is not written there",
            hint=f"chmod o-rwx {path} (ncctl config init makes it 0640), then run again; "
            "nothing was written",
            code="config.not_private",
        )


def read_value(key: str) -> str:
    """The value for ``key`` (a secret): a hidden prompt on a terminal, else one line of
    stdin."""
    stream = sys.stdin
    if stream is None:
        raise _no_value(key, "there is no stdin")
    if stream.isatty():
        import typer

        text: str = typer.prompt(
            f"{key} (hidden)", hide_input=True, confirmation_prompt=True, err=True
        )
        return _checked(key, text)
    try:
        fd = stream.fileno()
    except (OSError, ValueError):
        raise _no_value(key, "stdin cannot be read") from None
    raw = _read_bounded(key, fd)
    if len(raw) > MAX_BYTES:
        raise _no_value(key, f"stdin holds more than {MAX_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _no_value(key, "stdin is not UTF-8 text") from None
    if text.endswith("\n"):
        text = text[:-1].removesuffix("\r")
    return _checked(key, text)


def _read_bounded(key: str, fd: int) -> bytes:
    """Up to MAX_BYTES + 1 bytes of ``fd`` until end of file, within READ_TIMEOUT_S: a stdin
    that nobody writes to or closes is an error, not a hang."""
    import select
    import time

    data = bytearray()
    deadline = time.monotonic() + READ_TIMEOUT_S
    for _ in range(MAX_BYTES + 2):  # bounded: every round reads a byte, ends, or times out
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            raise _no_value(key, f"nothing came on stdin within {READ_TIMEOUT_S:g} s")
        chunk = os.read(fd, MAX_BYTES + 1 - len(data))
        if not chunk:
            break
        data += chunk
        if len(data) > MAX_BYTES:
            break
    return bytes(data)


def _checked(key: str, text: str) -> str:
    if not text:
        raise _no_value(key, "the value read is empty")
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise _no_value(key, "the value read spans several lines or holds control characters")
    return text


def _no_value(key: str, why: str) -> UsageError:
    return UsageError(
        f"{key}: no secret read: {why}",
        hint=f"pipe exactly one line: `printf '%s\\n' \"$SECRET\" | ncctl config set {key} -`; "
        "nothing was written",
        code="usage.secret_input",
    )
