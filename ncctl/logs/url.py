"""Destination URLs: ``sftp://user@host[:port]/dir``, ``file:///dir`` and ``file:relative/dir``
(for development; relative to the configuration file's directory, see ncctl.config.paths)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit


@dataclass(frozen=True)
class DestinationUrl:
    scheme: str  # "sftp" or "file"
    path: str
    user: str = ""
    host: str = ""
    port: int = 22


def parse_destination_url(url: str) -> DestinationUrl:
    """Parse a destination URL; raise ValueError saying what is wrong."""
    if any(ord(c) < 32 for c in url):
        raise ValueError("must not contain control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"{url!r} is not a URL: {exc}") from None
    if parts.query or parts.fragment:
        raise ValueError(f"{url!r}: no query or fragment allowed")
    path = unquote(parts.path)
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise ValueError(f"{url!r}: a file URL has no host (use file:///dir)")
        if not path.startswith("/") and url.startswith("file://"):
            raise ValueError(f"{url!r}: write file:///absolute/dir or file:relative/dir")
        return DestinationUrl("file", path)
    if parts.scheme == "sftp":
        if not parts.hostname:
            raise ValueError(f"{url!r}: an sftp URL needs a host (sftp://user@host/dir)")
        if not parts.username:
            raise ValueError(f"{url!r}: an sftp URL needs a user (sftp://user@host/dir)")
        if parts.password is not None:
            raise ValueError(f"{url!r}: no password in the URL; sftp uses key_file")
        return DestinationUrl(
            "sftp", path or ".", unquote(parts.username), parts.hostname, port or 22
        )
    raise ValueError(f"{url!r}: the scheme must be sftp:// or file://")
