"""Upload destinations: what every one guarantees.

Every destination writes a file under a temporary ``NAME.part`` name, makes it durable (fsync),
renames it to its final name in one step, and never overwrites a final file that holds other
content: that is an :class:`UploadConflict`. ``send`` resumes an interrupted ``.part`` file;
``verify`` confirms what is at the final name, by size, by reading it back and hashing it, or
(SFTP only) by running ``sha256sum`` on the server. The destinations are
:mod:`ncctl.logs.file_destination` and :mod:`ncctl.logs.sftp_destination`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from ncctl import floor
from ncctl.errors import (
    DataError,
)

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
