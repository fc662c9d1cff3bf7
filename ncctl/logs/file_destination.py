"""The local-directory destination (development, or a mounted share): the same guarantees
as SFTP (:mod:`ncctl.logs.destinations`)."""

from __future__ import annotations

import os
from pathlib import Path

from ncctl import floor
from ncctl.crashpoints import crashpoint
from ncctl.errors import CantCreateError, PermissionDeniedError, TemporaryError
from ncctl.logs.destinations import (
    CHUNK,
    RESUME_MARGIN,
    Item,
    Progress,
    SendResult,
    UploadConflict,
    VerifyMethod,
    VerifyOutcome,
    sha256_of,
)
from ncctl.logs.section import DestinationConfig
from ncctl.logs.url import parse_destination_url


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
