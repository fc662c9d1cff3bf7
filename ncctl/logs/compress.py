"""Compressing an archive into its final file while hashing it: one read, one write.

The output is written to a temporary name, flushed to disk, then renamed: a final archive
either exists whole or not at all.
"""

from __future__ import annotations

import glob
import gzip
import hashlib
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, Literal

from ncctl import floor
from ncctl.errors import CantCreateError, TemporaryError, UnavailableError

Method = Literal["none", "gzip", "zstd"]
CHUNK = 1024 * 1024
SUFFIX: dict[str, str] = {"none": "", "gzip": ".gz", "zstd": ".zst"}


class _HashingWriter:
    """A file object that hashes and counts what goes through it."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        self.size += len(data)
        return self.raw.write(data)

    def flush(self) -> None:
        self.raw.flush()


def _zstd_compressor() -> Callable[[BinaryIO, _HashingWriter], None]:
    try:
        import zstandard
    except ImportError:
        raise UnavailableError(
            "compress = 'zstd' needs the zstandard package",
            hint="pip install zstandard, or use compress = 'gzip'",
        ) from None

    def run(src: BinaryIO, out: _HashingWriter) -> None:
        packer = zstandard.ZstdCompressor(level=3).compressobj()
        while block := src.read(CHUNK):
            out.write(packer.compress(block))
        out.write(packer.flush())

    return run


def _write(src: BinaryIO, out: _HashingWriter, method: Method) -> None:
    if method == "none":
        while block := src.read(CHUNK):
            out.write(block)
    elif method == "gzip":
        # level 6 like gzip(1); mtime=0 so the same input gives the same bytes
        with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=6, mtime=0) as gz:
            while block := src.read(CHUNK):
                gz.write(block)
    else:
        _zstd_compressor()(src, out)


def compress_file(source: Path, target: Path, method: Method) -> tuple[int, str]:
    """Write ``source`` compressed to ``target`` durably; return (size, sha256) of ``target``."""
    for stale in target.parent.glob(f".{glob.escape(target.name)}.*.tmp"):
        floor.remove(stale)  # left by a run killed while compressing (a link: only unlinked)
    try:
        with (
            floor.open_file(source, "rb", what="archive", trusted_dir=False) as src,
            floor.atomic_writer(target, what="compressed archive") as raw,
        ):
            out = _HashingWriter(raw)
            _write(src, out, method)
    except OSError as exc:
        if exc.errno in (28, 122, 27):  # ENOSPC, EDQUOT, EFBIG
            raise TemporaryError(
                f"{target}: cannot write the compressed archive: {exc.strerror}",
                hint=f"free space under {target.parent}; the live log was not touched",
                code="rotate.no_space",
            ) from None
        raise CantCreateError(
            f"{target}: cannot write the compressed archive: {exc.strerror}",
            hint=f"check {target.parent}",
        ) from None
    except zlib.error as exc:  # pragma: no cover - gzip of a readable file does not fail
        raise CantCreateError(f"{target}: compression failed: {exc}", hint="report it") from None
    return out.size, out.digest.hexdigest()
