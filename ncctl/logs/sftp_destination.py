"""The SFTP destination: the upload policy, on :mod:`ncctl.logs.ssh_connection` and
:mod:`ncctl.logs.sftp_protocol`.

Guarantees are those of :mod:`ncctl.logs.destinations`: the file is written as ``NAME.part``
(opened read-write without APPEND, which OpenSSH ignores, and written at explicit offsets),
resumed ``RESUME_MARGIN`` bytes before the end of an interrupted ``.part``, truncated to its
size, fsynced, then renamed in one step to a final name that is checked to be free right
before; a final name that holds other content is an :class:`UploadConflict`, never overwritten.
A connection that timed out or closed is dropped at once (its socket closed, no channel or
SFTP close sent and waited for), so every stall is reported within ``timeout_s``.

One instance keeps one connection, opened on first use and reopened after a network error.
Not thread-safe: one instance per thread.
"""

from __future__ import annotations

import contextlib
import logging
import os
import posixpath
import re
import shlex
import struct
from collections.abc import Callable
from dataclasses import dataclass
from io import BufferedIOBase
from typing import TYPE_CHECKING, TypeVar

from ncctl import floor
from ncctl.errors import NcctlError, PermissionDeniedError, TemporaryError, UnavailableError
from ncctl.logs.destinations import (
    RESUME_MARGIN,
    Item,
    Progress,
    SendResult,
    UploadConflict,
    VerifyMethod,
    VerifyOutcome,
)
from ncctl.logs.section import DestinationConfig
from ncctl.logs.sftp_protocol import LocalFileError, SftpSession
from ncctl.logs.sftp_wire import (
    EXT_FSYNC,
    EXT_HARDLINK,
    EXT_POSIX_RENAME,
    FX_FAILURE,
    FX_NO_SUCH_FILE,
    FX_PERMISSION_DENIED,
    FXF_CREAT,
    FXF_EXCL,
    FXF_READ,
    FXF_WRITE,
    FXP_WRITE,
    SftpStatusError,
    pack_string,
)
from ncctl.logs.ssh_connection import (
    SshEndpoint,
    dead_connection_errors,
    network_errors,
    run_command,
)

if TYPE_CHECKING:
    import paramiko

RESUME_CHECK = 64 * 1024
"""Bytes before the resume point compared with the local file: a ``.part`` from other content
is rewritten from the start instead of being completed."""

_SHA256_LINE = re.compile(r"^\\?([0-9a-fA-F]{64}) [ *]")

log = logging.getLogger(__name__)
_T = TypeVar("_T")


@dataclass
class _Connection:
    transport: paramiko.Transport
    sftp: SftpSession
    directory_ready: bool = False


def _start_sftp(channel: paramiko.Channel) -> SftpSession:
    session = SftpSession(channel)
    session.start()
    return session


class SftpDestination(SshEndpoint):
    """An SFTP server of the FCM or of the client (``sftp://user@host:port/dir``)."""

    def __init__(self, name: str, config: DestinationConfig) -> None:
        super().__init__(name, config)
        self.verify_method: VerifyMethod = config.verify
        self._conn: _Connection | None = None

    # -- naming

    def _path(self, name: str) -> str:
        return posixpath.join(self.directory, name)

    # -- connection

    def _connect(self) -> _Connection:
        if self._conn is not None:
            if self._conn.transport.is_active() and not self._conn.sftp.channel.closed:
                return self._conn
            self._drop()
        transport, session = self._open("sftp", _start_sftp)
        self._conn = _Connection(transport, session)
        return self._conn

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
        self._drop()
        return self._network_failure(exc, what)

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
        except network_errors() as exc:
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
        except network_errors() as exc:
            raise self._network_error(exc, f"upload of {item.name} interrupted") from None

        def finish() -> None:
            sftp.truncate(handle, item.size)
            if sftp.has(EXT_FSYNC):
                sftp.fsync(handle)

        try:
            finish()
        except SftpStatusError as exc:
            raise self._write_failure(exc, part) from None
        except network_errors() as exc:
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
                if isinstance(exc, dead_connection_errors()):
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
                    payload = pack_string(handle) + struct.pack(">Q", 0) + pack_string(data)
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
                return run_command(channel, command, quiet_s, self.timeout_s)
            except dead_connection_errors():
                self._drop()  # frozen or gone: the channel is not closed politely
                raise
            finally:
                channel.close()  # a no-op once dropped

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
        except network_errors() as exc:
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
