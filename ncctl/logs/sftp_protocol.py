"""SFTP version 3 (draft-ietf-secsh-filexfer-02) with OpenSSH's extensions, on one SSH channel.

A small client of our own rather than paramiko's, because:

* **Every write is acknowledged.** paramiko's pipelined ``SFTPFile.write`` collects the status
  of its last writes nowhere (``close`` drops them), so a write that fails near the end of a file
  (a full disk) goes unreported. Here every WRITE's status is read and checked, in a bounded
  window of requests in flight, before the file is closed, fsynced and renamed.
* **OpenSSH's extensions.** paramiko reads neither the extensions the server announces nor
  ``limits@openssh.com``, and has no fsync: here ``fsync@openssh.com`` runs on the open handle
  when the server offers it, ``posix-rename@openssh.com`` publishes the file, and writes and
  reads are as large as the server allows (255 KiB on OpenSSH instead of paramiko's 32 KiB).

Its wire format is :mod:`ncctl.logs.sftp_wire`; the upload policy built on it is
:mod:`ncctl.logs.sftp_destination`.
"""

from __future__ import annotations

import hashlib
import struct
from io import BufferedIOBase
from typing import TYPE_CHECKING

from ncctl.crashpoints import crashpoint
from ncctl.errors import DataError
from ncctl.logs.destinations import Progress
from ncctl.logs.sftp_wire import (
    EXT_FSYNC,
    EXT_HARDLINK,
    EXT_LIMITS,
    EXT_POSIX_RENAME,
    EXT_STATVFS,
    FX_EOF,
    FX_NO_SUCH_FILE,
    FX_OK,
    FXP_ATTRS,
    FXP_CLOSE,
    FXP_DATA,
    FXP_EXTENDED,
    FXP_EXTENDED_REPLY,
    FXP_FSETSTAT,
    FXP_FSTAT,
    FXP_HANDLE,
    FXP_INIT,
    FXP_MKDIR,
    FXP_OPEN,
    FXP_READ,
    FXP_REMOVE,
    FXP_STAT,
    FXP_STATUS,
    FXP_VERSION,
    FXP_WRITE,
    Reader,
    RemoteStat,
    SftpProtocolError,
    SftpStatusError,
    attrs,
    pack_string,
)

if TYPE_CHECKING:
    import paramiko

# --- tuning (see benchmarks/upload.py for the measurements behind these) --------------------

IO_SIZE = 255 * 1024
"""Bytes per WRITE and READ request: OpenSSH's maximum (``limits@openssh.com``: 261120)."""
FALLBACK_IO_SIZE = 32 * 1024
"""Request size for servers that do not announce their limits (every server accepts it)."""
WRITES_IN_FLIGHT = 8
READS_IN_FLIGHT = 8
FILE_MODE = 0o640
MAX_PACKET = 1024 * 1024
"""Largest SFTP reply accepted; OpenSSH never sends more than 256 KiB."""


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

    def _read_reply(self) -> tuple[int, int, Reader]:
        ptype, body = self._read_packet()
        reader = Reader(body)
        return ptype, reader.u32(), reader

    def call(self, ptype: int, payload: bytes, what: str) -> tuple[int, Reader]:
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
        reader = Reader(body)
        version = reader.u32()
        if version < 3:
            raise SftpProtocolError(f"server speaks SFTP version {version}; 3 is needed")
        for _ in range(1000):  # bounded: a VERSION packet holds a handful of extensions
            if reader.at_end():
                break
            name = reader.text()
            self.extensions[name] = reader.string()
        if EXT_LIMITS in self.extensions:
            rtype, reply = self.call(FXP_EXTENDED, pack_string(EXT_LIMITS), "limits")
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
            rtype, reader = self.call(FXP_STAT, pack_string(path), f"stat {path}")
        except SftpStatusError as exc:
            if exc.status == FX_NO_SUCH_FILE:
                return None
            raise
        self._expect(rtype, FXP_ATTRS, "stat")
        return reader.attrs()

    def fstat(self, handle: bytes) -> RemoteStat:
        rtype, reader = self.call(FXP_FSTAT, pack_string(handle), "fstat")
        self._expect(rtype, FXP_ATTRS, "fstat")
        return reader.attrs()

    def mkdir(self, path: str, mode: int = 0o755) -> None:
        self.call(FXP_MKDIR, pack_string(path) + attrs(mode=mode), f"mkdir {path}")

    def open(self, path: str, flags: int, mode: int = FILE_MODE) -> bytes:
        rtype, reader = self.call(
            FXP_OPEN,
            pack_string(path) + struct.pack(">I", flags) + attrs(mode=mode),
            f"open {path}",
        )
        self._expect(rtype, FXP_HANDLE, "open")
        return reader.string()

    def close(self, handle: bytes) -> None:
        self.call(FXP_CLOSE, pack_string(handle), "close")

    def truncate(self, handle: bytes, size: int) -> None:
        self.call(FXP_FSETSTAT, pack_string(handle) + attrs(size=size), "truncate")

    def remove(self, path: str) -> None:
        self.call(FXP_REMOVE, pack_string(path), f"remove {path}")

    def fsync(self, handle: bytes) -> None:
        self.call(FXP_EXTENDED, pack_string(EXT_FSYNC) + pack_string(handle), "fsync")

    def posix_rename(self, old: str, new: str) -> None:
        payload = pack_string(EXT_POSIX_RENAME) + pack_string(old) + pack_string(new)
        self.call(FXP_EXTENDED, payload, f"rename {old} to {new}")

    def hardlink(self, old: str, new: str) -> None:
        """link(2) ``new`` to ``old``: fails when ``new`` exists, so it never replaces a file."""
        payload = pack_string(EXT_HARDLINK) + pack_string(old) + pack_string(new)
        self.call(FXP_EXTENDED, payload, f"link {new} to {old}")

    def free_bytes(self, path: str) -> int | None:
        """Bytes available to the user on the file system holding ``path`` (statvfs), if known."""
        if not self.has(EXT_STATVFS):
            return None
        rtype, reader = self.call(
            FXP_EXTENDED, pack_string(EXT_STATVFS) + pack_string(path), "statvfs"
        )
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
        handle_part = pack_string(handle)
        written = 0
        position = offset
        for _ in range((end - offset) // 1024 + 2 * WRITES_IN_FLIGHT + 4):  # bounded
            if failure is None and position < end:
                size = min(self.write_size, end - position)
                packet = bytearray(header_len + size)
                with memoryview(packet) as view:
                    got = read_exactly(source, view[header_len:], position)
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
                    pack_string(handle)
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
        body = struct.pack(">I", rid) + pack_string(handle) + struct.pack(">QI", offset, length)
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


def read_exactly(source: BufferedIOBase, into: memoryview, position: int) -> int:
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
