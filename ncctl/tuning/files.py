"""Configuration files under the root that tuning writes (persistence files, the boot
loader's drop-in): each replaced atomically after its previous content, and any directory
created for it, is in the rollback journal; a rollback puts them back (:func:`assess`,
:func:`restore`; journal entry kinds ``file`` and ``dir``)."""

from __future__ import annotations

import base64
import re
import stat
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from ncctl.tuning.rollback_journal import (
    RollbackEntry,
    RollbackJournal,
    RollbackStep,
    foreign_step,
    sha256_hex,
)

if TYPE_CHECKING:
    from pathlib import Path

    from ncctl.tuning.host import Host

ABSENT = "absent"


def read_bytes(host: Host, absolute: str) -> bytes | None:
    try:
        return host.path(absolute).read_bytes()
    except FileNotFoundError:
        return None


def _entry(
    host: Host,
    kind: str,
    absolute: str,
    original: str | None,
    boot_id: str | None,
    *,
    mode: int | None = None,
) -> RollbackEntry:
    """The rollback journal entry of a file or directory (``kind``) under the root."""
    return RollbackEntry(
        id=f"{kind}:{absolute}",
        kind=kind,
        path=absolute,
        root=str(host.root),
        original=original,
        mode=mode,
        boot_id=boot_id,
    )


def write_file(
    host: Host,
    journal: RollbackJournal,
    absolute: str,
    content: bytes | None,
    boot_id: str | None,
) -> None:
    """Replace (or remove, for None) a configuration file under the root, atomically, after
    recording in the rollback journal its previous content and any directory created."""
    from ncctl.floor import write_text_atomic

    target = host.path(absolute)
    missing: list[str] = []
    parent = PurePosixPath(absolute).parent
    while str(parent) != "/" and not host.path(str(parent)).exists():
        missing.append(str(parent))
        parent = parent.parent
    if content is not None:
        for directory in reversed(missing):
            journal.remember(_entry(host, "dir", directory, None, boot_id), intended="present")
            host.path(directory).mkdir(mode=0o755)
    current = read_bytes(host, absolute)
    mode = stat.S_IMODE(target.stat().st_mode) if current is not None else None
    original = None if current is None else base64.b64encode(current).decode()
    journal.remember(
        _entry(host, "file", absolute, original, boot_id, mode=mode),
        intended=ABSENT if content is None else sha256_hex(content),
    )
    if content is None:
        target.unlink(missing_ok=True)
        return
    write_text_atomic(target, content.decode(), mode=mode if mode is not None else 0o644)


def assess(entry: RollbackEntry, host: Host, force: bool) -> RollbackStep:
    """What a rollback does with a file or directory ncctl wrote (entry kinds ``file``,
    ``dir``)."""
    if entry.kind == "dir":
        if not host.path(entry.path).exists():
            return RollbackStep(entry, "unchanged", "absent", "already absent")
        return RollbackStep(entry, "restore", "present", "remove the directory ncctl made")
    data = read_bytes(host, entry.path)
    original = entry.original_bytes()
    shown = "absent" if data is None else f"sha256 {sha256_hex(data)[:12]}"
    if data == original:
        return RollbackStep(entry, "unchanged", shown, "already the original content")
    mark = ABSENT if data is None else sha256_hex(data)
    if mark in entry.intended:
        what = "remove" if original is None else "put back the original"
        return RollbackStep(entry, "restore", shown, what)
    return foreign_step(entry, shown, "the original content", force)


def restore(entry: RollbackEntry, host: Host) -> None:
    """Put back a file's original content (or remove it), or remove a directory ncctl made."""
    from ncctl.floor import write_text_atomic

    target = host.path(entry.path)
    if entry.kind == "dir":
        target.rmdir()
        return
    original = entry.original_bytes()
    if original is None:
        target.unlink(missing_ok=True)
    else:
        write_text_atomic(target, original.decode(), mode=entry.mode or 0o644)


def stray_temps(host: Host, absolute: str) -> list[Path]:
    """Temporary files a killed run left beside ``absolute`` under the root."""
    return temps_beside(host.path(absolute))


def temps_beside(target: Path) -> list[Path]:
    """Temporary files a killed run left beside ``target``: the atomic writer's names,
    ``.NAME.PID.HEX.tmp`` (:func:`ncctl.floor.temp_name`), regular files only."""
    pattern = re.compile(rf"^\.{re.escape(target.name)}\.\d+\.[0-9a-f]{{12}}\.tmp$")
    try:
        names = sorted(p.name for p in target.parent.iterdir())
    except OSError:
        return []
    found = []
    for name in names:
        path = target.parent / name
        if pattern.match(name) and path.is_file() and not path.is_symlink():
            found.append(path)
    return found
