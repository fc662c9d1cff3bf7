"""What is in an archive directory: the files that may be archives, their ``.sha256``
sidecars, and whether any archive there shows that a manifest existed."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING

from ncctl.errors import PermissionDeniedError

if TYPE_CHECKING:
    from ncctl.logs.section import LogsConfig

SIDECAR = ".sha256"
NOT_ARCHIVES = (SIDECAR, ".part", ".tmp")


def archive_files(directory: Path) -> list[tuple[Path, int]]:
    """Regular files of an archive directory that may be archives (not sidecars, not
    partial or temporary files), with their sizes; nothing when the directory is absent."""
    try:
        names = sorted(p.name for p in directory.iterdir())
    except (FileNotFoundError, NotADirectoryError):
        return []
    except OSError as exc:
        raise PermissionDeniedError(
            f"{directory}: cannot list the archive directory: {exc.strerror}",
            hint="check its permissions",
        ) from None
    out: list[tuple[Path, int]] = []
    for name in names:
        if name.startswith(".") or name.endswith(NOT_ARCHIVES):
            continue
        try:
            st = os.lstat(directory / name)
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode):
            out.append((directory / name, st.st_size))
    return out


def sidecars_present(logs: LogsConfig) -> str | None:
    """Why a manifest must exist (archives with .sha256 sidecars in an archive directory),
    or None when no archive directory holds one."""
    for name in logs.categories():
        directory = logs.archive_for(name)
        found = [p for p, _ in archive_files(directory) if sidecar_of(p).is_file()]
        if found:
            return (
                f"{len(found)} archive(s) with .sha256 sidecars are in {directory}; "
                "ncctl does not start a new manifest over them"
            )
    return None


def sidecar_of(path: Path) -> Path:
    """The ``.sha256`` sidecar of an archive."""
    return path.with_name(path.name + SIDECAR)
