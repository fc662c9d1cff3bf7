"""Upload destinations: what every one guarantees, and the local-directory one.

Every destination writes a file under a temporary ``NAME.part`` name, makes it durable (fsync),
renames it to its final name in one step, and never overwrites a final file that holds other
content: that is an :class:`UploadConflict`. ``send`` resumes an interrupted ``.part`` file;
``verify`` confirms what is at the final name, by size, by reading it back and hashing it, or
(SFTP only) by running ``sha256sum`` on the server.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from ncctl import floor
from ncctl.config import DestinationConfig
from ncctl.crashpoints import crashpoint
from ncctl.errors import (
    CantCreateError,
    DataError,
    PermissionDeniedError,
    TemporaryError,
)
from ncctl.logs.url import parse_destination_url

CHUNK = 1024 * 1024
RESUME_MARGIN = 256 * 1024
"""Bytes re-sent before the end of an interrupted ``.part`` file: its tail may be torn."""

VerifyMethod = Literal["size", "readback", "exec"]
Progress = Callable[[int], None]


class UploadConflict(DataError):
    """The final name already holds a file with other content: nothing is overwritten."""

    default_code = "upload.conflict"


@dataclass(frozen=True)
class Item:
    """One archived file to deliver."""

    local: Path
    name: str
    size: int
    sha256: str


@dataclass(frozen=True)
class SendResult:
    remote_path: str
    bytes_sent: int
    resumed_from: int
    already_present: bool


@dataclass(frozen=True)
class VerifyOutcome:
    ok: bool
    method: str
    detail: str = ""


class Destination(Protocol):
    """A place archives are delivered to."""

    name: str
    url: str

    def send(self, item: Item, progress: Progress | None = None) -> SendResult: ...

    def verify(self, item: Item) -> VerifyOutcome: ...

    def close(self) -> None: ...


def sha256_of(path: Path, chunk: int = CHUNK) -> str:
    digest = hashlib.sha256()
    with floor.open_file(path, "rb", what="file", trusted_dir=False) as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


fsync_dir = floor.fsync_dir


class FileDestination:
    """A directory on this host (development, or a mounted share): same guarantees as SFTP."""

    def __init__(self, name: str, config: DestinationConfig) -> None:
        self.name = name
        self.url = config.url
        self.directory = Path(parse_destination_url(config.url).path)
        self.verify_method: VerifyMethod = config.verify

    def _oserror(self, exc: OSError, what: str) -> Exception:
        message = f"destination {self.name}: {what}: {exc.strerror or exc}"
        if isinstance(exc, PermissionError):
            return PermissionDeniedError(message, hint=f"check the permissions of {self.directory}")
        if exc.errno in (28, 122):  # ENOSPC, EDQUOT
            return TemporaryError(
                message, hint=f"free space on {self.directory}", code="upload.no_space"
            )
        return CantCreateError(message, hint=f"check {self.directory}")

    def send(self, item: Item, progress: Progress | None = None) -> SendResult:
        final = self.directory / item.name
        part = self.directory / f"{item.name}.part"
        try:
            floor.ensure_dir(self.directory, f"destination {self.name} directory")
            if os.path.lexists(final):
                if final.lstat().st_size == item.size and sha256_of(final) == item.sha256:
                    return SendResult(str(final), 0, item.size, already_present=True)
                raise UploadConflict(
                    f"destination {self.name}: {final} already exists with other content",
                    hint="nothing was overwritten; compare the two files and move one aside",
                )
            start = 0
            sent = 0
            fd = floor.open_fd(part, os.O_WRONLY | os.O_CREAT, what="partial upload")
            start = max(0, min(os.fstat(fd).st_size, item.size) - RESUME_MARGIN)
            try:
                with floor.open_file(item.local, "rb", what="archive", trusted_dir=False) as src:
                    src.seek(start)
                    offset = start
                    while block := src.read(CHUNK):
                        os.pwrite(fd, block, offset)
                        offset += len(block)
                        sent += len(block)
                        crashpoint("upload.mid_send")
                        if progress is not None:
                            progress(len(block))
                os.ftruncate(fd, item.size)
                os.fsync(fd)
            finally:
                os.close(fd)
            if os.path.lexists(final):  # appeared meanwhile: never replace it
                raise UploadConflict(
                    f"destination {self.name}: {final} appeared during the upload",
                    hint="nothing was overwritten; find out who else writes there",
                )
            floor.publish(part, final, what="upload")
        except OSError as exc:
            raise self._oserror(exc, f"cannot write {item.name}") from None
        return SendResult(str(final), sent, start, already_present=False)

    def verify(self, item: Item) -> VerifyOutcome:
        final = self.directory / item.name
        try:
            size = final.lstat().st_size
            if size != item.size:
                return VerifyOutcome(False, "size", f"remote size {size}, expected {item.size}")
            if self.verify_method == "size":
                return VerifyOutcome(True, "size")
            digest = sha256_of(final)
        except OSError as exc:
            raise self._oserror(exc, f"cannot read back {item.name}") from None
        if digest != item.sha256:
            return VerifyOutcome(False, "readback", f"sha256 {digest}, expected {item.sha256}")
        return VerifyOutcome(True, "readback")

    def close(self) -> None:
        return None


def open_destination(name: str, config: DestinationConfig) -> Destination:
    """The destination a configuration describes (SFTP connections open lazily)."""
    if config.url.startswith("sftp://"):
        from ncctl.logs.sftp import SftpDestination

        return SftpDestination(name, config)
    return FileDestination(name, config)
