"""The SFTP version 3 wire format (draft-ietf-secsh-filexfer-02) and OpenSSH's PROTOCOL
extensions: packet and status codes, attribute encoding, and decoding of a reply's body."""

from __future__ import annotations

import stat as stat_mode
import struct
from dataclasses import dataclass

# --- SFTP version 3 (draft-ietf-secsh-filexfer-02) and OpenSSH's PROTOCOL extensions -------

FXP_INIT, FXP_VERSION = 1, 2
FXP_OPEN, FXP_CLOSE, FXP_READ, FXP_WRITE = 3, 4, 5, 6
FXP_LSTAT, FXP_FSTAT, FXP_SETSTAT, FXP_FSETSTAT = 7, 8, 9, 10
FXP_REMOVE, FXP_MKDIR, FXP_STAT = 13, 14, 17
FXP_STATUS, FXP_HANDLE, FXP_DATA, FXP_NAME, FXP_ATTRS = 101, 102, 103, 104, 105
FXP_EXTENDED, FXP_EXTENDED_REPLY = 200, 201

FXF_READ, FXF_WRITE, FXF_APPEND, FXF_CREAT, FXF_TRUNC, FXF_EXCL = 1, 2, 4, 8, 16, 32

ATTR_SIZE, ATTR_UIDGID, ATTR_PERMISSIONS, ATTR_ACMODTIME = 1, 2, 4, 8
ATTR_EXTENDED = 0x80000000

FX_OK, FX_EOF, FX_NO_SUCH_FILE, FX_PERMISSION_DENIED, FX_FAILURE = 0, 1, 2, 3, 4
FX_OP_UNSUPPORTED = 8
FX_NAMES = {
    0: "ok",
    1: "end of file",
    2: "no such file",
    3: "permission denied",
    4: "failure",
    5: "bad message",
    6: "no connection",
    7: "connection lost",
    8: "operation unsupported",
}

EXT_FSYNC = "fsync@openssh.com"
EXT_POSIX_RENAME = "posix-rename@openssh.com"
EXT_HARDLINK = "hardlink@openssh.com"
EXT_STATVFS = "statvfs@openssh.com"
EXT_LIMITS = "limits@openssh.com"


class SftpStatusError(Exception):
    """A request answered with an SSH_FXP_STATUS other than OK."""

    def __init__(self, status: int, text: str, request: str) -> None:
        name = FX_NAMES.get(status, f"status {status}")
        super().__init__(f"{request}: {text or name} ({name})")
        self.status = status
        self.text = text
        self.request = request


class SftpProtocolError(Exception):
    """The server sent something that is not SFTP v3 as we asked for it."""


@dataclass(frozen=True)
class RemoteStat:
    size: int | None
    mode: int | None

    @property
    def is_dir(self) -> bool:
        return self.mode is not None and stat_mode.S_ISDIR(self.mode)


# --- wire helpers --------------------------------------------------------------------------


def pack_string(value: bytes | str) -> bytes:
    raw = value.encode("utf-8") if isinstance(value, str) else value
    return struct.pack(">I", len(raw)) + raw


def attrs(*, size: int | None = None, mode: int | None = None) -> bytes:
    flags = (ATTR_SIZE if size is not None else 0) | (ATTR_PERMISSIONS if mode is not None else 0)
    out = struct.pack(">I", flags)
    if size is not None:
        out += struct.pack(">Q", size)
    if mode is not None:
        out += struct.pack(">I", mode)
    return out


class Reader:
    """Sequential decoding of one SFTP packet body."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def _take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise SftpProtocolError("truncated SFTP packet")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def u32(self) -> int:
        value: int = struct.unpack(">I", self._take(4))[0]
        return value

    def u64(self) -> int:
        value: int = struct.unpack(">Q", self._take(8))[0]
        return value

    def string(self) -> bytes:
        return self._take(self.u32())

    def text(self) -> str:
        return self.string().decode("utf-8", errors="replace")

    def at_end(self) -> bool:
        return self.pos >= len(self.data)

    def attrs(self) -> RemoteStat:
        flags = self.u32()
        size = mode = None
        if flags & ATTR_SIZE:
            size = self.u64()
        if flags & ATTR_UIDGID:
            self.u32()
            self.u32()
        if flags & ATTR_PERMISSIONS:
            mode = self.u32()
        if flags & ATTR_ACMODTIME:
            self.u32()
            self.u32()
        if flags & ATTR_EXTENDED:
            for _ in range(self.u32()):
                self.string()
                self.string()
        return RemoteStat(size=size, mode=mode)
