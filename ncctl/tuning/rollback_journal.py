"""The rollback journal of tuning, in the state directory (``state_dir/tuning/``), never on
tmpfs.

* ``rollback.jsonl`` – the rollback journal. Before the first write of a setting, one line
  holds its original value and is fsynced; a setting is recorded once, so that re-applying
  is idempotent and a crashed apply can still be undone. Later lines add a value ncctl
  intends (a changed profile) or close a setting when rollback restored it. When every
  setting is closed the file moves to ``history/``.
* ``state.json`` – see :mod:`ncctl.tuning.record`.
* ``lock`` – held (flock) by an apply or a rollback.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ncctl import floor
from ncctl.errors import CantCreateError, DataError, TemporaryError

VOLATILE_FS = frozenset({"tmpfs", "ramfs", "devtmpfs"})


def tuning_dir(state_dir: Path) -> Path:
    return state_dir / "tuning"


def _unescape_mount(text: str) -> str:
    """``/proc/self/mounts`` escapes space, tab, newline and backslash as octal."""
    out: list[str] = []
    i = 0
    while i < len(text):
        digits = text[i + 1 : i + 4]
        if text[i] == "\\" and len(digits) == 3 and digits.isdigit():
            out.append(chr(int(text[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def filesystem_type(directory: Path, mounts_text: str) -> str | None:
    """The type of the file system holding ``directory``, from a mount table's text."""
    target = directory.absolute()
    best: tuple[int, str] | None = None
    for line in mounts_text.splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        point = Path(_unescape_mount(fields[1]))
        if target == point or point in target.parents:
            depth = len(point.parts)
            if best is None or depth >= best[0]:
                best = (depth, fields[2])
    return best[1] if best else None


def check_persistent(directory: Path, mounts: Path | None) -> None:
    """Refuse a state directory on tmpfs: a rollback journal there is lost at reboot."""
    if mounts is None:
        return
    try:
        text = mounts.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return
    fstype = filesystem_type(directory, text)
    if fstype in VOLATILE_FS:
        raise CantCreateError(
            f"state_dir {directory} is on {fstype}: the rollback journal would be lost at reboot",
            hint="point state_dir at a disk-backed directory (such as /var/lib/ncctl)",
        )


_fsync_dir = floor.fsync_dir


def ensure_dir(directory: Path) -> None:
    floor.ensure_dir(directory, "tuning state directory")


@contextlib.contextmanager
def locked(directory: Path) -> Iterator[None]:
    """Hold the tuning lock of ``directory``; TemporaryError when another run holds it."""

    def busy(fd: int) -> TemporaryError:
        return TemporaryError(
            "another `ncctl tune host` or `tune rollback` is running",
            hint="wait for it to finish, then run again",
        )

    with floor.locked(directory / "lock", 0, what="tuning lock", busy=busy):
        yield


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class RollbackEntry:
    """One setting or file ncctl changed, and what it was before."""

    id: str
    kind: str
    """``value`` (a kernel file), ``file`` (a configuration file), ``dir``, or ``grubby``."""
    path: str
    root: str
    original: str | None
    """The value read before the first write; for ``file``, base64 content; None: absent."""
    fmt: str = "text"
    setting_kind: str = ""
    mode: int | None = None
    boot_id: str | None = None
    intended: list[str] = field(default_factory=list)
    seq: int = 0

    def original_bytes(self) -> bytes | None:
        return None if self.original is None else base64.b64decode(self.original)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "setting_kind": self.setting_kind,
            "path": self.path,
            "original": self.original if self.kind != "file" else None,
            "intended": self.intended if self.kind != "file" else [],
        }


class RollbackJournal:
    """``state_dir/tuning/rollback.jsonl``: original values, fsynced before every first write."""

    NAME = "rollback.jsonl"

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / self.NAME
        self.warnings: list[str] = []

    def _records(self) -> list[dict[str, Any]]:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise DataError(
                f"{self.path}: cannot read the rollback journal: {exc.strerror}",
                hint="check the state directory's permissions",
            ) from None
        records: list[dict[str, Any]] = []
        lines = data.split(b"\n")
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError):
                if number == len(lines):
                    # a power cut may leave a partial last line: that write never happened
                    self.warnings.append(f"{self.path}:{number}: incomplete last line ignored")
                    continue
                raise DataError(
                    f"{self.path}:{number}: rollback journal line is not JSON",
                    hint="restore the file from a backup; do not edit it by hand",
                ) from None
            if isinstance(record, dict):
                records.append(record)
        return records

    def open_entries(self) -> list[RollbackEntry]:
        """Settings recorded and not yet restored, in the order they were first recorded."""
        entries: dict[str, RollbackEntry] = {}
        for seq, record in enumerate(self._records()):
            op, ident = record.get("op"), str(record.get("id", ""))
            if op == "original":
                entry = RollbackEntry(
                    id=ident,
                    kind=str(record["kind"]),
                    path=str(record["path"]),
                    root=str(record["root"]),
                    original=record.get("original"),
                    fmt=str(record.get("fmt", "text")),
                    setting_kind=str(record.get("setting_kind", "")),
                    mode=record.get("mode"),
                    boot_id=record.get("boot_id"),
                    intended=[str(record["intended"])] if record.get("intended") else [],
                    seq=seq,
                )
                entries[ident] = entry
            elif op == "intended" and ident in entries:
                value = str(record["intended"])
                if value not in entries[ident].intended:
                    entries[ident].intended.append(value)
            elif op == "closed":
                entries.pop(ident, None)
        return sorted(entries.values(), key=lambda e: e.seq)

    def _append(self, record: dict[str, Any]) -> None:
        ensure_dir(self.directory)
        created = not self.path.exists()
        record = {**record, "ts_ns": time.time_ns()}
        line = (json.dumps(record, sort_keys=True, ensure_ascii=True) + "\n").encode()
        try:
            fd = floor.open_fd(
                self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, what="rollback journal"
            )
        except OSError as exc:
            raise CantCreateError(
                f"{self.path}: cannot open the rollback journal: {exc.strerror}",
                hint="nothing was changed; check the state directory",
            ) from None
        try:
            written = os.write(fd, line)
            if written != len(line):
                raise CantCreateError(
                    f"{self.path}: short write ({written} of {len(line)} bytes)",
                    hint="nothing more was changed; check free space",
                )
            os.fsync(fd)
        finally:
            os.close(fd)
        if created:
            _fsync_dir(self.directory)

    def remember(self, entry: RollbackEntry, intended: str) -> bool:
        """Record ``entry``'s original (once) and the value about to be written; fsynced
        before returning. Returns True when the original was recorded now."""
        known = {e.id: e for e in self.open_entries()}
        if entry.id in known:
            if intended not in known[entry.id].intended:
                self._append({"op": "intended", "id": entry.id, "intended": intended})
            return False
        self._append(
            {
                "op": "original",
                "id": entry.id,
                "kind": entry.kind,
                "setting_kind": entry.setting_kind,
                "path": entry.path,
                "root": entry.root,
                "original": entry.original,
                "fmt": entry.fmt,
                "mode": entry.mode,
                "boot_id": entry.boot_id,
                "intended": intended,
            }
        )
        return True

    def close(self, ident: str, outcome: str) -> None:
        self._append({"op": "closed", "id": ident, "outcome": outcome})

    def archive_if_done(self) -> Path | None:
        """Move a journal with nothing left open to ``history/``; its new path or None."""
        if not self.path.exists() or self.open_entries():
            return None
        history = self.directory / "history"
        ensure_dir(history)
        target = history / f"rollback-{time.time_ns()}.jsonl"
        floor.move(self.path, target, what="rollback journal")
        _fsync_dir(history)
        _fsync_dir(self.directory)
        return target


@dataclass
class RollbackStep:
    """One open journal entry and what a rollback does with it."""

    entry: RollbackEntry
    action: str
    """``restore``, ``unchanged`` (already the original), ``skip`` (changed by someone
    else), ``gone`` (the file no longer exists)."""
    current: str | None
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.entry.id,
            "path": self.entry.path,
            "action": self.action,
            "current": self.current,
            "original": self.entry.original if self.entry.kind != "file" else None,
            "reason": self.reason,
        }


def foreign_step(entry: RollbackEntry, now: str, was: str, force: bool) -> RollbackStep:
    """The step for an entry someone else changed since ncctl wrote it: skipped unless forced."""
    wrote = ", ".join(entry.intended) if entry.kind != "file" else "its own content"
    if force:
        return RollbackStep(
            entry, "restore", now, f"changed by someone else since (now {now}); forced"
        )
    return RollbackStep(
        entry,
        "skip",
        now,
        f"changed by someone else since ncctl wrote {wrote}: now {now}; "
        f"--force restores {was} anyway",
    )
