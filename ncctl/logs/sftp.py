"""The SFTP destination: paramiko for SSH, a small SFTP v3 client of our own on its channel.

paramiko is imported here and nowhere else, and only when a connection is opened, so that
commands which upload nothing never load it (docs/design.md §3.2, rule 6).

What paramiko provides: the SSH transport (key exchange, ciphers, host key, public-key
authentication, channels, keepalive). What this module does itself, on the ``sftp`` subsystem
channel, and why:

* **Every write is acknowledged.** paramiko's pipelined ``SFTPFile.write`` collects the status
  of its last writes nowhere (``close`` drops them), so a write that fails near the end of a file
  (a full disk) goes unreported. Here every WRITE's status is read and checked, in a bounded
  window of requests in flight, before the file is closed, fsynced and renamed.
* **OpenSSH's extensions.** paramiko reads neither the extensions the server announces nor
  ``limits@openssh.com``, and has no fsync: here ``fsync@openssh.com`` runs on the open handle
  when the server offers it, ``posix-rename@openssh.com`` publishes the file, and writes and
  reads are as large as the server allows (255 KiB on OpenSSH instead of paramiko's 32 KiB).
* **Timeouts everywhere.** TCP connect, banner, key exchange, authentication and channel open
  are bounded by ``timeout_s``, and so is every wait on the channel (its ``settimeout``), so a
  frozen server raises instead of blocking. A connection that timed out or closed is dropped
  at once (its socket closed, no channel or SFTP close sent and waited for), so every stall is
  reported within ``timeout_s``. A stall or end of file during key exchange or authentication
  is a network fault (retried); only the server's answer refusing the key is ``sftp.auth``.

Guarantees are those of :mod:`ncctl.logs.destinations`: the file is written as ``NAME.part``
(opened read-write without APPEND, which OpenSSH ignores, and written at explicit offsets),
resumed ``RESUME_MARGIN`` bytes before the end of an interrupted ``.part``, truncated to its
size, fsynced, then renamed in one step to a final name that is checked to be free right
before; a final name that holds other content is an :class:`UploadConflict`, never overwritten.

One instance keeps one connection, opened on first use and reopened after a network error.
Not thread-safe: one instance per thread.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import os
import posixpath
import re
import shlex
import socket
import stat as stat_mode
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from io import BufferedIOBase
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from ncctl import floor
from ncctl.config import DestinationConfig
from ncctl.crashpoints import crashpoint
from ncctl.errors import (
    ConfigError,
    DataError,
    NcctlError,
    PermissionDeniedError,
    TemporaryError,
    UnavailableError,
)
from ncctl.logs.destinations import (
    RESUME_MARGIN,
    Item,
    Progress,
    SendResult,
    UploadConflict,
    VerifyMethod,
    VerifyOutcome,
)
from ncctl.logs.ssh_algorithms import apply_floor, legacy_kex, refused_offer, unsupported
from ncctl.logs.url import parse_destination_url

if TYPE_CHECKING:
    import paramiko

# --- tuning (see benchmarks/upload.py for the measurements behind these) --------------------

IO_SIZE = 255 * 1024
"""Bytes per WRITE and READ request: OpenSSH's maximum (``limits@openssh.com``: 261120)."""
FALLBACK_IO_SIZE = 32 * 1024
"""Request size for servers that do not announce their limits (every server accepts it)."""
WRITES_IN_FLIGHT = 8
READS_IN_FLIGHT = 8
RECV_WINDOW = 8 * 1024 * 1024
RECV_MAX_PACKET = 64 * 1024
PREFERRED_CIPHERS = ("aes128-gcm@openssh.com", "aes256-gcm@openssh.com")
"""Tried before paramiko's defaults (aes-ctr + hmac-sha2): AEAD needs no separate MAC pass."""
KEEPALIVE_S = 15.0
AUTH_POLL_S = 0.05
"""How often a wait for the authentication answer checks that the connection is still up."""
RESUME_CHECK = 64 * 1024
"""Bytes before the resume point compared with the local file: a ``.part`` from other content
is rewritten from the start instead of being completed."""
FILE_MODE = 0o640
MAX_PACKET = 1024 * 1024
"""Largest SFTP reply accepted; OpenSSH never sends more than 256 KiB."""

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

_SHA256_LINE = re.compile(r"^\\?([0-9a-fA-F]{64}) [ *]")

log = logging.getLogger(__name__)
_T = TypeVar("_T")


class HostKeyError(UnavailableError):
    """The server's host key is not the one ``known_hosts`` pins (or none is pinned)."""

    default_code = "sftp.host_key"


class WeakAlgorithmsError(UnavailableError):
    """The server offers only algorithms below ncctl's floor (not retried: exit 69)."""

    default_code = "sftp.weak_algorithms"


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


class _Silent(TimeoutError):
    """No answer within ``timeout_s`` at a step the message names ("during key exchange")."""


@dataclass(frozen=True)
class RemoteStat:
    size: int | None
    mode: int | None

    @property
    def is_dir(self) -> bool:
        return self.mode is not None and stat_mode.S_ISDIR(self.mode)


def openssh_fingerprint(key_blob: bytes) -> str:
    """``SHA256:...`` as ``ssh-keygen -l`` prints it (unpadded base64 of the blob's SHA-256)."""
    import base64

    digest = hashlib.sha256(key_blob).digest()
    return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")


# --- wire helpers --------------------------------------------------------------------------


def _string(value: bytes | str) -> bytes:
    raw = value.encode("utf-8") if isinstance(value, str) else value
    return struct.pack(">I", len(raw)) + raw


def _attrs(*, size: int | None = None, mode: int | None = None) -> bytes:
    flags = (ATTR_SIZE if size is not None else 0) | (ATTR_PERMISSIONS if mode is not None else 0)
    out = struct.pack(">I", flags)
    if size is not None:
        out += struct.pack(">Q", size)
    if mode is not None:
        out += struct.pack(">I", mode)
    return out


class _Reader:
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


class SftpSession:
    """An SFTP v3 client on one paramiko channel: synchronous calls plus pipelined transfers.

    Every network wait is bounded by the channel's timeout (``socket.timeout`` on expiry).
    Requests never outlive the call that sent them: a pipelined transfer collects every reply
    before it returns or raises, so the next call starts from a quiet channel.
    """

    def __init__(self, channel: paramiko.Channel) -> None:
        self.channel = channel
        self._inbuf = bytearray()
        self._next_id = 0
        self.extensions: dict[str, bytes] = {}
        self.write_size = FALLBACK_IO_SIZE
        self.read_size = FALLBACK_IO_SIZE

    # -- packets

    def _send_packet(self, ptype: int, body: bytes | bytearray) -> None:
        packet = bytearray(struct.pack(">IB", len(body) + 1, ptype))
        packet += body
        self._send_raw(packet)

    def _send_raw(self, packet: bytearray) -> None:
        total = len(packet)
        pos = 0
        for _ in range(total + 1):  # bounded: every round sends at least one byte or raises
            if pos >= total:
                return
            # paramiko sends at most out_max_packet_size - 64 bytes per call: hand it slices of
            # that size (one copy) rather than the rest of the packet (a copy per call)
            piece = max(1024, self.channel.out_max_packet_size - 64)
            whole = pos == 0 and piece >= total
            sent = self.channel.send(packet if whole else packet[pos : pos + piece])
            if sent <= 0:
                raise EOFError("the SFTP channel closed")
            pos += sent

    def _fill(self, need: int) -> None:
        while len(self._inbuf) < need:
            data = self.channel.recv(max(need - len(self._inbuf), 1024 * 1024))
            if not data:
                raise EOFError("the SFTP channel closed")
            self._inbuf += data

    def _read_packet(self) -> tuple[int, bytes]:
        self._fill(5)
        length = struct.unpack_from(">I", self._inbuf)[0]
        if length < 1 or length > MAX_PACKET:
            raise SftpProtocolError(f"SFTP packet of {length} bytes")
        self._fill(4 + length)
        ptype = self._inbuf[4]
        with memoryview(self._inbuf) as view:
            body = bytes(view[5 : 4 + length])
        del self._inbuf[: 4 + length]
        return ptype, body

    def _request_id(self) -> int:
        self._next_id = (self._next_id + 1) & 0xFFFFFFFF
        return self._next_id

    def _read_reply(self) -> tuple[int, int, _Reader]:
        ptype, body = self._read_packet()
        reader = _Reader(body)
        return ptype, reader.u32(), reader

    def call(self, ptype: int, payload: bytes, what: str) -> tuple[int, _Reader]:
        """Send one request and return its reply (type, reader); STATUS errors raise."""
        rid = self._request_id()
        self._send_packet(ptype, struct.pack(">I", rid) + payload)
        rtype, got, reader = self._read_reply()
        if got != rid:
            raise SftpProtocolError(f"reply to request {got}, expected {rid}")
        if rtype == FXP_STATUS:
            status = reader.u32()
            text = "" if reader.at_end() else reader.text()
            if status != FX_OK:
                raise SftpStatusError(status, text, what)
        return rtype, reader

    def _expect(self, rtype: int, want: int, what: str) -> None:
        if rtype != want:
            raise SftpProtocolError(f"{what}: reply type {rtype}, expected {want}")

    # -- session

    def start(self) -> None:
        self._send_packet(FXP_INIT, struct.pack(">I", 3))
        ptype, body = self._read_packet()
        if ptype != FXP_VERSION:
            raise SftpProtocolError(f"expected SSH_FXP_VERSION, got packet type {ptype}")
        reader = _Reader(body)
        version = reader.u32()
        if version < 3:
            raise SftpProtocolError(f"server speaks SFTP version {version}; 3 is needed")
        for _ in range(1000):  # bounded: a VERSION packet holds a handful of extensions
            if reader.at_end():
                break
            name = reader.text()
            self.extensions[name] = reader.string()
        if EXT_LIMITS in self.extensions:
            rtype, reply = self.call(FXP_EXTENDED, _string(EXT_LIMITS), "limits")
            self._expect(rtype, FXP_EXTENDED_REPLY, "limits")
            max_packet, max_read, max_write = reply.u64(), reply.u64(), reply.u64()
            room = max_packet - 1024 if max_packet else IO_SIZE
            self.write_size = max(1024, min(IO_SIZE, max_write or IO_SIZE, room))
            self.read_size = max(1024, min(IO_SIZE, max_read or IO_SIZE, room))

    def has(self, extension: str) -> bool:
        return extension in self.extensions

    # -- file system calls

    def stat(self, path: str) -> RemoteStat | None:
        """Attributes of ``path`` (following links), or None when it does not exist."""
        try:
            rtype, reader = self.call(FXP_STAT, _string(path), f"stat {path}")
        except SftpStatusError as exc:
            if exc.status == FX_NO_SUCH_FILE:
                return None
            raise
        self._expect(rtype, FXP_ATTRS, "stat")
        return reader.attrs()

    def fstat(self, handle: bytes) -> RemoteStat:
        rtype, reader = self.call(FXP_FSTAT, _string(handle), "fstat")
        self._expect(rtype, FXP_ATTRS, "fstat")
        return reader.attrs()

    def mkdir(self, path: str, mode: int = 0o755) -> None:
        self.call(FXP_MKDIR, _string(path) + _attrs(mode=mode), f"mkdir {path}")

    def open(self, path: str, flags: int, mode: int = FILE_MODE) -> bytes:
        rtype, reader = self.call(
            FXP_OPEN, _string(path) + struct.pack(">I", flags) + _attrs(mode=mode), f"open {path}"
        )
        self._expect(rtype, FXP_HANDLE, "open")
        return reader.string()

    def close(self, handle: bytes) -> None:
        self.call(FXP_CLOSE, _string(handle), "close")

    def truncate(self, handle: bytes, size: int) -> None:
        self.call(FXP_FSETSTAT, _string(handle) + _attrs(size=size), "truncate")

    def remove(self, path: str) -> None:
        self.call(FXP_REMOVE, _string(path), f"remove {path}")

    def fsync(self, handle: bytes) -> None:
        self.call(FXP_EXTENDED, _string(EXT_FSYNC) + _string(handle), "fsync")

    def posix_rename(self, old: str, new: str) -> None:
        payload = _string(EXT_POSIX_RENAME) + _string(old) + _string(new)
        self.call(FXP_EXTENDED, payload, f"rename {old} to {new}")

    def hardlink(self, old: str, new: str) -> None:
        """link(2) ``new`` to ``old``: fails when ``new`` exists, so it never replaces a file."""
        payload = _string(EXT_HARDLINK) + _string(old) + _string(new)
        self.call(FXP_EXTENDED, payload, f"link {new} to {old}")

    def free_bytes(self, path: str) -> int | None:
        """Bytes available to the user on the file system holding ``path`` (statvfs), if known."""
        if not self.has(EXT_STATVFS):
            return None
        rtype, reader = self.call(FXP_EXTENDED, _string(EXT_STATVFS) + _string(path), "statvfs")
        self._expect(rtype, FXP_EXTENDED_REPLY, "statvfs")
        _bsize, frsize, _blocks, _bfree, bavail = (reader.u64() for _ in range(5))
        return frsize * bavail

    # -- pipelined transfers

    def write_from(
        self,
        handle: bytes,
        source: BufferedIOBase,
        offset: int,
        end: int,
        progress: Progress | None = None,
    ) -> int:
        """Write ``source`` (positioned at ``offset``) to ``handle`` at ``offset`` up to ``end``.

        Up to WRITES_IN_FLIGHT requests are outstanding; every status is read and checked
        before this returns. The first failing request raises :class:`SftpStatusError` (its
        ``request`` names the offset) after the others in flight were collected. Returns the
        bytes written. A local file shorter than ``end`` raises :class:`LocalFileError`.
        """
        pending: dict[int, tuple[int, int]] = {}
        failure: SftpStatusError | None = None
        failed_at = end
        header_len = 4 + 1 + 4 + 4 + len(handle) + 8 + 4
        handle_part = _string(handle)
        written = 0
        position = offset
        for _ in range((end - offset) // 1024 + 2 * WRITES_IN_FLIGHT + 4):  # bounded
            if failure is None and position < end:
                size = min(self.write_size, end - position)
                packet = bytearray(header_len + size)
                with memoryview(packet) as view:
                    got = _read_exactly(source, view[header_len:], position)
                if got < size:
                    raise LocalFileError(
                        f"local file ended at byte {position + got}, {end} expected"
                    )
                rid = self._request_id()
                struct.pack_into(">IBI", packet, 0, len(packet) - 4, FXP_WRITE, rid)
                packet[9 : 9 + len(handle_part)] = handle_part
                struct.pack_into(">QI", packet, 9 + len(handle_part), position, size)
                self._send_raw(packet)
                pending[rid] = (position, size)
                position += size
            draining = failure is not None or position >= end
            while pending and (
                draining or len(pending) >= WRITES_IN_FLIGHT or self.channel.recv_ready()
            ):
                rtype, rid, reader = self._read_reply()
                if rid not in pending:
                    raise SftpProtocolError(f"reply to unknown request {rid}")
                at, size = pending.pop(rid)
                self._expect(rtype, FXP_STATUS, "write")
                status = reader.u32()
                if status == FX_OK:
                    written += size
                    if written >= 4 * self.write_size:
                        crashpoint("upload.mid_send")
                    if progress is not None:
                        progress(size)
                elif at < failed_at:  # report the first failing offset
                    text = "" if reader.at_end() else reader.text()
                    failure = SftpStatusError(status, text, f"write at offset {at}")
                    failed_at = at
            if not pending and (failure is not None or position >= end):
                break
        else:
            raise SftpProtocolError("write loop did not finish")
        if failure is not None:
            raise failure
        return written

    def hash_range(self, handle: bytes, size: int) -> tuple[str, int]:
        """SHA-256 of the first ``size`` bytes of ``handle`` with pipelined reads.

        Returns (hex digest, bytes hashed); fewer than ``size`` bytes means the file is shorter.
        """
        digest = hashlib.sha256()
        pending: dict[int, tuple[int, int]] = {}
        ready: dict[int, bytes] = {}
        requested = hashed = 0
        eof_at: int | None = None
        for _ in range(4 * (size // 1024) + 4 * READS_IN_FLIGHT + 16):  # bounded
            while requested < size and len(pending) < READS_IN_FLIGHT and eof_at is None:
                length = min(self.read_size, size - requested)
                self._send_read(handle, requested, length, pending)
                requested += length
            if not pending:
                break
            rtype, rid, reader = self._read_reply()
            if rid not in pending:
                raise SftpProtocolError(f"reply to unknown request {rid}")
            at, length = pending.pop(rid)
            if rtype == FXP_STATUS:
                status = reader.u32()
                if status != FX_EOF:
                    text = "" if reader.at_end() else reader.text()
                    self._drain(pending)
                    raise SftpStatusError(status, text, f"read at offset {at}")
                eof_at = at if eof_at is None else min(eof_at, at)
                continue
            self._expect(rtype, FXP_DATA, "read")
            data = reader.string()
            if not data or len(data) > length:
                self._drain(pending)
                raise SftpProtocolError(f"read at {at} returned {len(data)} of {length} bytes")
            if len(data) < length:  # a short read: ask for the rest
                self._send_read(handle, at + len(data), length - len(data), pending)
            ready[at] = data
            while hashed in ready:
                block = ready.pop(hashed)
                digest.update(block)
                hashed += len(block)
        else:
            raise SftpProtocolError("read loop did not finish")
        return digest.hexdigest(), hashed

    def read_at(self, handle: bytes, offset: int, length: int) -> bytes:
        """Up to ``length`` bytes at ``offset`` (fewer at end of file)."""
        out = bytearray()
        for _ in range(length // 512 + 2):  # bounded: every round reads at least one byte
            if len(out) >= length:
                break
            try:
                rtype, reader = self.call(
                    FXP_READ,
                    _string(handle)
                    + struct.pack(">QI", offset + len(out), min(self.read_size, length - len(out))),
                    "read",
                )
            except SftpStatusError as exc:
                if exc.status == FX_EOF:
                    break
                raise
            self._expect(rtype, FXP_DATA, "read")
            data = reader.string()
            if not data:
                break
            out += data
        return bytes(out)

    def _send_read(
        self, handle: bytes, offset: int, length: int, pending: dict[int, tuple[int, int]]
    ) -> None:
        rid = self._request_id()
        body = struct.pack(">I", rid) + _string(handle) + struct.pack(">QI", offset, length)
        self._send_packet(FXP_READ, body)
        pending[rid] = (offset, length)

    def _drain(self, pending: dict[int, tuple[int, int]]) -> None:
        """Collect the replies still due, so that the channel is quiet for the next call."""
        for _ in range(len(pending)):
            _rtype, rid, _reader = self._read_reply()
            pending.pop(rid, None)


class LocalFileError(DataError):
    """The local archive cannot be read as the manifest describes it."""

    default_code = "upload.local_file"


def _read_exactly(source: BufferedIOBase, into: memoryview, position: int) -> int:
    """Fill ``into`` from ``source``; returns the bytes read (fewer only at end of file)."""
    got = 0
    for _ in range(len(into) + 1):  # bounded: every round reads at least one byte or stops
        if got >= len(into):
            break
        try:
            n = source.readinto(into[got:])
        except OSError as exc:
            raise LocalFileError(
                f"cannot read the local file at byte {position + got}: {exc.strerror or exc}"
            ) from None
        if not n:
            break
        got += n
    return int(got)


def _dead_connection_errors() -> tuple[type[BaseException], ...]:
    """What a frozen or closed connection raises (a time-out is an OSError): the connection is
    dropped without another round trip."""
    return (OSError, EOFError, SftpProtocolError)


def _network_errors() -> tuple[type[BaseException], ...]:
    """What a broken, frozen or refusing connection raises (paramiko imported lazily)."""
    import paramiko

    return (*_dead_connection_errors(), paramiko.SSHException)


def _quiet_paramiko_logging() -> None:
    """paramiko logs connection failures from its own thread; ncctl reports them itself, so
    they must not reach stderr through logging's last-resort handler."""
    logger = logging.getLogger("paramiko")
    if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
        logger.addHandler(logging.NullHandler())


@functools.cache
def _recording_transport() -> type[paramiko.Transport]:
    """paramiko's Transport, keeping the server's KEXINIT lists (``server_offer``) so that a
    refused handshake can name what the server offered, and knowing the SHA-1 key exchanges
    that ``allow_algorithms`` may name (:func:`ncctl.logs.ssh_algorithms.legacy_kex`)."""
    import paramiko

    class RecordingTransport(paramiko.Transport):
        server_offer: dict[str, list[str]] | None = None
        _kex_info: ClassVar[dict[str, Any]] = {
            **legacy_kex(),
            **paramiko.Transport._kex_info,  # type: ignore[attr-defined]
        }

        def _really_parse_kex_init(self, m: Any, ignore_first_byte: bool = False) -> Any:
            parsed = super()._really_parse_kex_init(m, ignore_first_byte)  # type: ignore[misc]
            if not ignore_first_byte:  # the peer's KEXINIT (ours is parsed with True)
                self.server_offer = {k: list(v) for k, v in parsed.items() if k.endswith("_list")}
            return parsed

    return RecordingTransport


# --- the destination ----------------------------------------------------------------------


@dataclass
class _Connection:
    transport: paramiko.Transport
    sftp: SftpSession
    directory_ready: bool = False


class SftpDestination:
    """An SFTP server of the FCM or of the client (``sftp://user@host:port/dir``)."""

    def __init__(self, name: str, config: DestinationConfig) -> None:
        self.name = name
        self.url = config.url
        self.config = config
        parsed = parse_destination_url(config.url)
        self.user = parsed.user
        self.host = parsed.host
        self.port = parsed.port
        self.directory = parsed.path.rstrip("/") or "/"
        self.timeout_s = config.timeout_s
        self.verify_method: VerifyMethod = config.verify
        self._conn: _Connection | None = None

    # -- naming

    @property
    def where(self) -> str:
        return f"{self.user}@{self.host}:{self.port}"

    def _path(self, name: str) -> str:
        return posixpath.join(self.directory, name)

    def _prefix(self) -> str:
        return f"destination {self.name} ({self.where})"

    # -- connection

    def _known_host_name(self) -> str:
        return self.host if self.port == 22 else f"[{self.host}]:{self.port}"

    def _load_key(self) -> paramiko.PKey:
        import paramiko

        key_file = self.config.key_file
        if key_file is None:
            raise ConfigError(f"{self._prefix()}: no key_file", code="sftp.key_file")
        try:
            info = key_file.stat()
        except OSError as exc:
            raise ConfigError(
                f"{self._prefix()}: cannot read key file {key_file}: {exc.strerror or exc}",
                hint="key_file must name the private key whose public half the server trusts",
                code="sftp.key_file",
            ) from None
        if info.st_mode & 0o077:
            raise ConfigError(
                f"{self._prefix()}: key file {key_file} is accessible by group or others "
                f"(mode {stat_mode.S_IMODE(info.st_mode):04o}); it must be private",
                hint=f"chmod 600 {key_file}",
                code="sftp.key_file",
            )
        if floor.foreign_owner(info):
            raise ConfigError(
                f"{self._prefix()}: key file {key_file} is owned by uid {info.st_uid}, "
                "not by root or this user",
                hint=f"chown root {key_file}",
                code="sftp.key_file",
            )
        try:
            return paramiko.PKey.from_path(key_file)
        except paramiko.PasswordRequiredException:
            raise ConfigError(
                f"{self._prefix()}: key file {key_file} is encrypted",
                hint="ncctl uses no agent and asks no passphrase: use an unencrypted key "
                "readable only by the ncctl user",
                code="sftp.key_file",
            ) from None
        except (OSError, ValueError, paramiko.SSHException) as exc:
            raise ConfigError(
                f"{self._prefix()}: cannot load key file {key_file}: {exc}",
                hint="key_file must be an OpenSSH or PEM private key (ed25519, ecdsa or rsa)",
                code="sftp.key_file",
            ) from None

    def _load_known_hosts(self) -> paramiko.HostKeys:
        import paramiko

        path = self.config.known_hosts
        if path is None:
            raise ConfigError(f"{self._prefix()}: no known_hosts", code="sftp.known_hosts")
        keys = paramiko.HostKeys()
        try:
            info = path.stat()
            if info.st_mode & 0o022 or floor.foreign_owner(info):
                raise ConfigError(
                    f"{self._prefix()}: known_hosts {path} can be changed by others (owner uid "
                    f"{info.st_uid}, mode {stat_mode.S_IMODE(info.st_mode):04o})",
                    hint=f"chown root {path} && chmod go-w {path}",
                    code="sftp.known_hosts",
                )
            keys.load(str(path))
        except ConfigError:
            raise
        except OSError as exc:
            raise ConfigError(
                f"{self._prefix()}: cannot read known_hosts {path}: {exc.strerror or exc}",
                hint="known_hosts must hold the server's host key (ssh-keyscan, then check its "
                "fingerprint with the server's owner)",
                code="sftp.known_hosts",
            ) from None
        except Exception as exc:  # paramiko raises assorted errors for a malformed line
            raise ConfigError(
                f"{self._prefix()}: cannot parse known_hosts {path}: {exc}",
                code="sftp.known_hosts",
            ) from None
        return keys

    def _check_host_key(self, known: paramiko.HostKeys, offered: paramiko.PKey) -> None:
        name = self._known_host_name()
        fingerprint = f"{offered.get_name()} {openssh_fingerprint(offered.asbytes())}"
        pinned = known.lookup(name)
        path = self.config.known_hosts
        if not pinned:
            raise HostKeyError(
                f"{self._prefix()}: host key of {name} is not in {path}; the server offered "
                f"{fingerprint}",
                hint=f"check that fingerprint with the server's owner, then add the key to {path}"
                f" (ssh-keyscan -p {self.port} {self.host}); ncctl never adds keys itself",
            )
        expected = pinned.get(offered.get_name())
        if expected is None or expected.asbytes() != offered.asbytes():
            known_list = ", ".join(
                f"{key.get_name()} {openssh_fingerprint(key.asbytes())}" for key in pinned.values()
            )
            raise HostKeyError(
                f"{self._prefix()}: HOST KEY CHANGED for {name}: the server offered "
                f"{fingerprint}, {path} pins {known_list}",
                hint="someone may be intercepting the connection, or the server was rebuilt: "
                "confirm the new fingerprint with the server's owner before replacing the key",
            )

    def _set_preferences(self, transport: paramiko.Transport, known: paramiko.HostKeys) -> None:
        """No weak algorithm unless allowed; AES-GCM first; the host key types that
        known_hosts pins for this host first."""
        unsupported = apply_floor(transport, self.config.allow_algorithms)
        if unsupported:
            import paramiko

            raise ConfigError(
                f"destinations.{self.name}.allow_algorithms: paramiko {paramiko.__version__} "
                f"cannot speak {', '.join(unsupported)} at all",
                hint="remove those names; the server's owner has to enable a modern algorithm",
                code="sftp.allow_algorithms",
            )
        options = transport.get_security_options()
        available = tuple(options.ciphers)
        options.ciphers = tuple(c for c in PREFERRED_CIPHERS if c in available) + tuple(
            c for c in available if c not in PREFERRED_CIPHERS
        )
        pinned = known.lookup(self._known_host_name())
        if pinned:
            wanted: list[str] = []
            for key_type in pinned:
                wanted += ["rsa-sha2-512", "rsa-sha2-256"] if key_type == "ssh-rsa" else [key_type]
            types = tuple(options.key_types)
            first = tuple(t for t in wanted if t in types)
            options.key_types = first + tuple(t for t in types if t not in first)

    def _connect(self) -> _Connection:
        if self._conn is not None:
            if self._conn.transport.is_active() and not self._conn.sftp.channel.closed:
                return self._conn
            self._drop()
        import paramiko

        _quiet_paramiko_logging()
        key = self._load_key()
        known = self._load_known_hosts()
        timeout = self.timeout_s
        transport: paramiko.Transport | None = None
        try:
            sock = socket.create_connection((self.host, self.port), timeout=timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            transport = _recording_transport()(sock)
            transport.banner_timeout = timeout
            transport.handshake_timeout = timeout
            transport.auth_timeout = timeout
            transport.channel_timeout = timeout
            self._set_preferences(transport, known)
            transport.set_keepalive(min(KEEPALIVE_S, max(1.0, timeout / 2)))
            try:
                transport.start_client(timeout=timeout)
            except paramiko.ssh_exception.IncompatiblePeer as exc:
                raise self._weak_algorithms(transport, exc) from None
            if transport.is_active() and not transport.initial_kex_done:
                raise _Silent("during key exchange")  # start_client gave up waiting
            self._check_host_key(known, transport.get_remote_server_key())
            remaining = self._authenticate(transport, key)
            if remaining:
                raise PermissionDeniedError(
                    f"{self._prefix()}: the server wants more than a key for {self.user} "
                    f"({', '.join(remaining)})",
                    hint="ncctl authenticates with a key only: ask for a key-only account",
                    code="sftp.auth",
                )
            channel = transport.open_session(
                window_size=RECV_WINDOW, max_packet_size=RECV_MAX_PACKET, timeout=timeout
            )
            channel.settimeout(timeout)
            channel.invoke_subsystem("sftp")
            session = SftpSession(channel)
            session.start()
        except NcctlError:
            if transport is not None:
                transport.close()
            raise
        except _network_errors() as exc:
            if transport is not None:
                transport.close()
            raise self._network_error(exc, "cannot connect") from None
        self._conn = _Connection(transport, session)
        return self._conn

    def _weak_algorithms(
        self, transport: paramiko.Transport, exc: Exception
    ) -> WeakAlgorithmsError:
        """The handshake found nothing acceptable: name what the server offers instead."""
        offer = getattr(transport, "server_offer", None) or {}
        weak = refused_offer(offer, self.config.allow_algorithms)
        if not weak:
            return WeakAlgorithmsError(
                f"{self._prefix()}: no SSH algorithm in common with the server ({exc})",
                hint="ask the server's owner which algorithms it offers (ssh -vv shows them)",
            )
        named = "; ".join(f"{kind} {', '.join(names)}" for kind, names in weak.items())
        hint = (
            "ask the server's owner to enable modern ones (curve25519-sha256, "
            "aes128-gcm@openssh.com or aes128-ctr, hmac-sha2-256)"
        )
        # a kind in which this paramiko speaks none of the offered names cannot be allowed
        missing = [
            names for names in weak.values() if len(unsupported(transport, names)) == len(names)
        ]
        if missing:
            import paramiko

            lacking = ", ".join(n for names in missing for n in names)
            hint += f"; paramiko {paramiko.__version__} cannot speak {lacking} at all"
        else:
            listed = ", ".join(f'"{n}"' for names in weak.values() for n in names)
            hint += (
                f"; only if that cannot be done, accept the risk for this server with "
                f"allow_algorithms = [{listed}] in [destinations.{self.name}]"
            )
        return WeakAlgorithmsError(
            f"{self._prefix()}: the server offers only weak algorithms: {named}", hint=hint
        )

    def _authenticate(self, transport: paramiko.Transport, key: paramiko.PKey) -> list[str]:
        """Public-key authentication; the methods the server still wants (none when done).

        Only an answer from the server (USERAUTH_FAILURE) is a refusal (``sftp.auth``). A server
        that says nothing within ``timeout_s``, or closes the connection, raises TimeoutError or
        EOFError: a network fault, retried by the next run (paramiko reports both as an
        AuthenticationException, which would send the operator to fix a key that is fine).
        """
        import paramiko

        answered = threading.Event()
        transport.auth_publickey(self.user, key, answered)  # sends the request, returns at once
        deadline = time.monotonic() + self.timeout_s
        for _ in range(int(self.timeout_s / AUTH_POLL_S) + 2):  # bounded by the deadline too
            if answered.wait(AUTH_POLL_S):
                break
            if not transport.is_active():
                raise EOFError("the server closed the connection during authentication")
            if time.monotonic() >= deadline:
                break
        if not answered.is_set():
            raise _Silent("during authentication")
        handler = transport.auth_handler
        if handler is None or not transport.is_active():  # paramiko sets the event on EOF too
            raise EOFError("the server closed the connection during authentication")
        try:
            remaining: list[str] = handler.wait_for_response(answered)
        except paramiko.AuthenticationException as exc:
            raise PermissionDeniedError(
                f"{self._prefix()}: the server refused key {self.config.key_file} for "
                f"{self.user}: {exc}",
                hint=f"install the public key in ~{self.user}/.ssh/authorized_keys on "
                f"{self.host}, or fix key_file",
                code="sftp.auth",
            ) from None
        return remaining

    def _drop(self) -> None:
        """Forget the connection without talking to the server (it may be frozen or gone):
        the socket is closed at once, no channel or SFTP close is sent or waited for."""
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.transport.close()

    def close(self) -> None:
        """Close the SFTP channel politely when the connection is healthy, then drop it."""
        conn = self._conn
        if conn is not None and conn.transport.is_active():
            with contextlib.suppress(Exception):
                conn.sftp.channel.close()
        self._drop()

    # -- error mapping

    def _network_error(self, exc: BaseException, what: str) -> NcctlError:
        """A connection-level failure: worth retrying (the connection is dropped)."""
        import paramiko

        self._drop()
        if isinstance(exc, NcctlError):
            return exc
        if isinstance(exc, paramiko.AuthenticationException):
            return PermissionDeniedError(
                f"{self._prefix()}: {what}: authentication failed: {exc}",
                hint=f"check key_file and ~{self.user}/.ssh/authorized_keys on {self.host}",
                code="sftp.auth",
            )
        if isinstance(exc, socket.timeout | TimeoutError):
            detail = f"no answer within {self.timeout_s:g} s"
            if isinstance(exc, _Silent):
                detail += f" {exc}"
        elif isinstance(exc, EOFError):
            detail = f"the connection was closed ({exc})" if str(exc) else "connection closed"
        elif isinstance(exc, SftpProtocolError):
            detail = f"SFTP protocol error: {exc}"
        else:
            detail = str(exc) or type(exc).__name__
        return TemporaryError(
            f"{self._prefix()}: {what}: {detail}",
            hint="a network or server problem: the upload resumes on the next run",
            code="upload.network",
        )

    def _status_error(self, exc: SftpStatusError, what: str, directory: str) -> NcctlError:
        if exc.status == FX_PERMISSION_DENIED:
            return PermissionDeniedError(
                f"{self._prefix()}: {what}: permission denied ({exc.text or exc.request})",
                hint=f"the account {self.user} needs write and search permission on "
                f"{directory} on {self.host}",
                code="upload.permission",
            )
        if exc.status == FX_NO_SUCH_FILE:
            return UnavailableError(
                f"{self._prefix()}: {what}: no such file or directory ({exc.request})",
                hint=f"check the directory in {self.url}",
                code="upload.no_such_file",
            )
        return TemporaryError(
            f"{self._prefix()}: {what}: the server answered {exc}",
            hint="see the SFTP server's log; the upload resumes on the next run",
            code="upload.remote_error",
        )

    def _guarded(self, what: str, directory: str, action: Callable[[], _T]) -> _T:
        """Run ``action`` and turn whatever it raises into an NcctlError."""
        try:
            return action()
        except NcctlError:
            raise
        except SftpStatusError as exc:
            raise self._status_error(exc, what, directory) from None
        except _network_errors() as exc:
            raise self._network_error(exc, what) from None

    # -- remote directory

    def _ensure_directory(self, conn: _Connection) -> None:
        if conn.directory_ready:
            return
        sftp = conn.sftp
        missing: list[str] = []
        current = self.directory
        for _ in range(64):  # bounded: a path has fewer components than that
            found = sftp.stat(current)
            if found is not None:
                if not found.is_dir:
                    raise UnavailableError(
                        f"{self._prefix()}: {current} exists and is not a directory",
                        hint=f"fix the directory in {self.url}",
                        code="upload.not_a_directory",
                    )
                break
            missing.append(current)
            parent = posixpath.dirname(current)
            if parent in ("", current):
                break
            current = parent
        for directory in reversed(missing):
            try:
                sftp.mkdir(directory)
            except SftpStatusError as exc:
                if exc.status == FX_PERMISSION_DENIED:
                    raise PermissionDeniedError(
                        f"{self._prefix()}: cannot create directory {directory}: permission denied",
                        hint=f"create {self.directory} on {self.host} for {self.user}, or give "
                        f"{self.user} write permission on {posixpath.dirname(directory)}",
                        code="upload.permission",
                    ) from None
                if sftp.stat(directory) is None:  # not created concurrently: a real failure
                    raise
        conn.directory_ready = True

    # -- send

    def send(self, item: Item, progress: Progress | None = None) -> SendResult:
        final = self._path(item.name)
        part = f"{final}.part"
        conn = self._guarded("cannot connect", self.directory, self._connect)
        self._guarded(
            f"cannot use {self.directory}", self.directory, lambda: self._ensure_directory(conn)
        )
        existing = self._guarded(
            f"cannot stat {final}", self.directory, lambda: conn.sftp.stat(final)
        )
        if existing is not None:
            if existing.size == item.size and self._remote_sha256(conn, final, item) == item.sha256:
                # published before a crash: a .part linked to it may be left behind
                self._guarded(
                    f"cannot remove {part}", self.directory, lambda: self._remove_if_any(conn, part)
                )
                return SendResult(final, 0, item.size, already_present=True)
            raise UploadConflict(
                f"{self._prefix()}: {final} already exists with other content "
                f"({existing.size} bytes)",
                hint="nothing was overwritten; compare the two files and move one aside",
            )
        try:
            fd = floor.open_fd(item.local, os.O_RDONLY, what="archive", trusted_dir=False)
            source = os.fdopen(fd, "rb")
        except OSError as exc:
            raise LocalFileError(
                f"{self._prefix()}: cannot read {item.local}: {exc.strerror or exc}",
                hint="the archive is gone or unreadable: see ncctl logs status",
            ) from None
        with source:
            handle = self._guarded(
                f"cannot create {part}",
                self.directory,
                lambda: conn.sftp.open(part, FXF_READ | FXF_WRITE | FXF_CREAT),
            )
            try:
                start, sent = self._write_part(
                    conn=conn, handle=handle, source=source, item=item, part=part, progress=progress
                )
            except BaseException:
                self._close_quietly(conn, handle)
                raise
        self._guarded(f"cannot close {part}", self.directory, lambda: conn.sftp.close(handle))
        self._publish(conn, part, final)
        return SendResult(final, sent, start, already_present=False)

    def _write_part(
        self,
        *,
        conn: _Connection,
        handle: bytes,
        source: BufferedIOBase,
        item: Item,
        part: str,
        progress: Progress | None,
    ) -> tuple[int, int]:
        sftp = conn.sftp

        def resume_point() -> int:
            size = sftp.fstat(handle).size or 0
            start = max(0, min(size, item.size) - RESUME_MARGIN)
            if start == 0:
                return 0
            check = min(RESUME_CHECK, start)
            remote = sftp.read_at(handle, start - check, check)
            source.seek(start - check)
            local = source.read(check)
            if remote != local:
                log.info("%s: %s holds other content; rewriting it", self._prefix(), part)
                return 0
            return start

        start = self._guarded(f"cannot read {part}", self.directory, resume_point)
        source.seek(start)
        try:
            sent = sftp.write_from(handle, source, start, item.size, progress)
        except LocalFileError as exc:
            raise LocalFileError(
                f"{self._prefix()}: {item.local}: {exc.message}",
                hint="the local archive changed after rotation: see ncctl logs status",
            ) from None
        except SftpStatusError as exc:
            raise self._write_failure(exc, part) from None
        except NcctlError:
            raise
        except _network_errors() as exc:
            raise self._network_error(exc, f"upload of {item.name} interrupted") from None

        def finish() -> None:
            sftp.truncate(handle, item.size)
            if sftp.has(EXT_FSYNC):
                sftp.fsync(handle)

        try:
            finish()
        except SftpStatusError as exc:
            raise self._write_failure(exc, part) from None
        except _network_errors() as exc:
            raise self._network_error(exc, f"cannot finish {part}") from None
        return start, sent

    def _write_failure(self, exc: SftpStatusError, part: str) -> NcctlError:
        """A failed WRITE/FSETSTAT/fsync: say whether the remote file system is full."""
        if exc.status == FX_FAILURE and self._conn is not None:
            try:
                free = self._conn.sftp.free_bytes(self.directory)
            except Exception:
                free = None
            if free is not None and free < RESUME_MARGIN * 4:
                return TemporaryError(
                    f"{self._prefix()}: {exc.request} of {part} failed: the remote file system "
                    f"is full ({free} bytes free in {self.directory})",
                    hint=f"free space on {self.host}:{self.directory}; the upload resumes on "
                    "the next run",
                    code="upload.no_space",
                )
        return self._status_error(exc, f"cannot write {part}", self.directory)

    def _close_quietly(self, conn: _Connection, handle: bytes) -> None:
        if self._conn is not conn:
            return  # the connection was dropped: the server closes the handle itself
        try:
            conn.sftp.close(handle)
        except Exception:
            self._drop()

    def _publish(self, conn: _Connection, part: str, final: str) -> None:
        sftp = conn.sftp
        if not sftp.has(EXT_POSIX_RENAME):
            raise UnavailableError(
                f"{self._prefix()}: the server does not offer {EXT_POSIX_RENAME}",
                hint="ncctl renames in one step or not at all; this server cannot be used",
                code="sftp.unsupported",
            )
        if self._guarded(f"cannot stat {final}", self.directory, lambda: sftp.stat(final)):
            raise UploadConflict(
                f"{self._prefix()}: {final} appeared during the upload",
                hint=f"nothing was overwritten ({part} is kept); find out who else writes there",
            )
        if sftp.has(EXT_HARDLINK):
            # link then unlink: the final name appears in one step and, unlike a rename,
            # a file someone else put there in the meantime is never replaced
            try:
                self._guarded(
                    f"cannot link {final} to {part}",
                    self.directory,
                    lambda: sftp.hardlink(part, final),
                )
            except NcctlError:
                if self._guarded(f"cannot stat {final}", self.directory, lambda: sftp.stat(final)):
                    raise UploadConflict(
                        f"{self._prefix()}: {final} appeared during the upload",
                        hint=f"nothing was overwritten ({part} is kept); find out who else "
                        "writes there",
                    ) from None
                raise
            self._guarded(f"cannot remove {part}", self.directory, lambda: sftp.remove(part))
            return
        self._guarded(
            f"cannot rename {part} to {final}",
            self.directory,
            lambda: sftp.posix_rename(part, final),
        )

    def _remove_if_any(self, conn: _Connection, path: str) -> None:
        if conn.sftp.stat(path) is not None:
            conn.sftp.remove(path)

    # -- verify

    def _remote_sha256(self, conn: _Connection, path: str, item: Item) -> str:
        def run() -> str:
            handle = conn.sftp.open(path, FXF_READ)
            try:
                digest, _hashed = conn.sftp.hash_range(handle, item.size)
            except BaseException as exc:
                if isinstance(exc, _dead_connection_errors()):
                    self._drop()  # frozen or gone: no CLOSE round trip on it
                self._close_quietly(conn, handle)
                raise
            conn.sftp.close(handle)
            return digest

        return self._guarded(f"cannot read back {path}", self.directory, run)

    def preflight(self, probe: str | None) -> int | None:
        """Connect (pinned host key, key authentication), check that the directory exists,
        and return the bytes free there (``statvfs@openssh.com``; None when the server does
        not offer it). With ``probe``, write a small file of that name in the directory and
        remove it. Nothing else is created or changed: a missing directory is an error here
        (uploads create it)."""
        conn = self._guarded("cannot connect", self.directory, self._connect)
        sftp = conn.sftp
        where = self.directory
        found = self._guarded(f"cannot stat {where}", where, lambda: sftp.stat(where))
        if found is None or not found.is_dir:
            raise UnavailableError(
                f"{self._prefix()}: {where} "
                + ("does not exist" if found is None else "is not a directory"),
                hint=f"create {where} on {self.host} for {self.user} before the week",
                code="upload.no_such_file",
            )
        free = self._guarded("cannot read free space", where, lambda: sftp.free_bytes(where))
        if probe is not None:
            path = self._path(probe)

            def write_and_remove() -> None:
                handle = sftp.open(path, FXF_WRITE | FXF_CREAT | FXF_EXCL)
                try:
                    data = b"ncctl preflight probe\n"
                    payload = _string(handle) + struct.pack(">Q", 0) + _string(data)
                    sftp.call(FXP_WRITE, payload, f"write {path}")
                finally:
                    sftp.close(handle)
                sftp.remove(path)

            self._guarded(f"cannot write probe file {path}", where, write_and_remove)
        return free

    def verify(self, item: Item) -> VerifyOutcome:
        final = self._path(item.name)
        conn = self._guarded("cannot connect", self.directory, self._connect)
        found = self._guarded(f"cannot stat {final}", self.directory, lambda: conn.sftp.stat(final))
        if found is None:
            return VerifyOutcome(False, "size", f"{final} does not exist on {self.host}")
        if found.size != item.size:
            return VerifyOutcome(False, "size", f"remote size {found.size}, expected {item.size}")
        if self.verify_method == "size":
            return VerifyOutcome(True, "size")
        if self.verify_method == "exec":
            digest = self._exec_sha256(conn, final, item.size)
            method = "exec"
        else:
            digest = self._remote_sha256(conn, final, item)
            method = "readback"
        if digest != item.sha256:
            return VerifyOutcome(False, method, f"sha256 {digest}, expected {item.sha256}")
        return VerifyOutcome(True, method)

    def _exec_sha256(self, conn: _Connection, path: str, size: int) -> str:
        """Run ``sha256sum`` on the server over an exec channel; its digest of ``path``."""
        # the command prints nothing until it has read the whole file: allow for that
        quiet_s = self.timeout_s + size / (50 * 1024 * 1024)
        command = f"sha256sum -- {shlex.quote(path)}"

        def run() -> tuple[int | None, bytes, bytes]:
            channel = conn.transport.open_session(timeout=self.timeout_s)
            try:
                return collect(channel)
            except _dead_connection_errors():
                self._drop()  # frozen or gone: the channel is not closed politely
                raise
            finally:
                channel.close()  # a no-op once dropped

        def collect(channel: paramiko.Channel) -> tuple[int | None, bytes, bytes]:
            channel.settimeout(quiet_s)
            channel.exec_command(command)
            channel.shutdown_write()
            out = bytearray()
            err = bytearray()
            deadline = time.monotonic() + quiet_s + self.timeout_s
            for _ in range(100_000):  # bounded by the deadline as well
                data = channel.recv(65536)
                if not data:
                    break
                out += data[: max(0, 65536 - len(out))]
                if time.monotonic() > deadline:
                    raise TimeoutError
            while channel.recv_stderr_ready() and len(err) < 65536:
                err += channel.recv_stderr(65536)
            done = channel.status_event.wait(self.timeout_s)
            return (channel.exit_status if done else None), bytes(out), bytes(err)

        import paramiko

        try:
            status, out, err = run()
        except paramiko.ChannelException as exc:
            raise self._exec_unavailable(f"the server refused an exec channel ({exc})") from None
        except paramiko.SSHException as exc:
            if conn.transport.is_active():
                raise self._exec_unavailable(
                    f"the server refused to run a command ({exc})"
                ) from None
            raise self._network_error(exc, f"cannot verify {path}") from None
        except _network_errors() as exc:
            raise self._network_error(exc, f"cannot verify {path}") from None
        text = out.decode("utf-8", errors="replace").strip()
        match = _SHA256_LINE.match(text)
        if match and status == 0:
            return match.group(1).lower()
        problem = (err or out).decode("utf-8", errors="replace").strip()[:300]
        if b"sha256sum:" in err and status not in (None, 126, 127):
            return f"unreadable ({problem})"
        raise self._exec_unavailable(
            f"`{command}` gave no digest (exit status {status}): {problem or 'no output'}"
        )

    def _exec_unavailable(self, detail: str) -> UnavailableError:
        return UnavailableError(
            f'{self._prefix()}: verify = "exec": {detail}',
            hint='the account has no usable shell or no sha256sum: set verify = "readback" for '
            "this destination",
            code="verify.exec_unavailable",
        )
