"""Persistence without a daemon: files the system applies at every boot.

* sysctl values go to ``/etc/sysctl.d/99-ncctl.conf`` (``systemd-sysctl`` or ``procps``
  applies it at boot, in containers too);
* sysfs values (THP, huge pages, governors, workqueue masks, the default IRQ mask) go to
  ``/etc/tmpfiles.d/ncctl-tuning.conf`` as ``w PATH - - - - VALUE`` lines
  (``systemd-tmpfiles --create`` writes them at boot);
* boot parameters persist in the boot loader (:mod:`ncctl.tuning.boot`), and IRQ affinity
  through ``irqaffinity=`` (IRQ numbers change between boots).

Only settings that can be changed from here are persisted: a host-wide value is never
written into a container's files. Every file (and directory) written is recorded in the
rollback journal first, with its previous content.
"""

from __future__ import annotations

import base64
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from ncctl.tuning.settings import Finding, KernelSetting, Persistence, Scope, Verdict
from ncctl.tuning.state import RollbackEntry, RollbackJournal, sha256_hex

if TYPE_CHECKING:
    from ncctl.tuning.host import Host, NamespaceContext

SYSCTL_FILE = "/etc/sysctl.d/99-ncctl.conf"
TMPFILES_FILE = "/etc/tmpfiles.d/ncctl-tuning.conf"
ABSENT = "absent"


@dataclass(frozen=True)
class FileChange:
    """A configuration file as it is and as the profile wants it (None: absent)."""

    path: str
    purpose: str
    current: bytes | None
    desired: bytes | None

    @property
    def action(self) -> str:
        if self.current == self.desired:
            return "unchanged"
        if self.desired is None:
            return "remove"
        return "create" if self.current is None else "update"

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "purpose": self.purpose,
            "action": self.action,
            "content": None if self.desired is None else self.desired.decode(),
        }


def _header(profile: str, how: str) -> str:
    return (
        f"# Written by `ncctl tune host` for tuning profile {profile}; {how}.\n"
        "# `ncctl tune rollback` restores what was here before: change the profile, "
        "not this file.\n"
    )


def _persistable(
    pairs: Sequence[tuple[KernelSetting, Finding]], ctx: NamespaceContext, via: Persistence
) -> list[KernelSetting]:
    chosen: list[KernelSetting] = []
    for setting, finding in pairs:
        if setting.persistence() is not via:
            continue
        if finding.verdict not in (Verdict.OK, Verdict.APPLY):
            continue
        if setting.scope is Scope.HOST and ctx.contained:
            continue
        if finding.verdict is Verdict.OK and finding.access != "writable":
            continue
        chosen.append(setting)
    return chosen


def _read_bytes(host: Host, absolute: str) -> bytes | None:
    try:
        return host.path(absolute).read_bytes()
    except FileNotFoundError:
        return None


def planned_files(
    host: Host,
    profile: str,
    pairs: Sequence[tuple[KernelSetting, Finding]],
    ctx: NamespaceContext,
) -> list[FileChange]:
    """The sysctl.d and tmpfiles.d files that keep the profile across reboots."""
    changes: list[FileChange] = []
    for path, label, kind, applied_by in (
        (
            SYSCTL_FILE,
            "sysctl values at boot",
            Persistence.SYSCTL_D,
            "systemd-sysctl applies it at boot",
        ),
        (
            TMPFILES_FILE,
            "sysfs values at boot",
            Persistence.TMPFILES,
            "systemd-tmpfiles writes these at boot",
        ),
    ):
        settings = _persistable(pairs, ctx, kind)
        text = None
        if settings:
            text = _header(profile, applied_by) + "".join(s.persist_line() + "\n" for s in settings)
        changes.append(
            FileChange(
                path, label, _read_bytes(host, path), text.encode() if text is not None else None
            )
        )
    return changes


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
            journal.remember(
                RollbackEntry(
                    id=f"dir:{directory}",
                    kind="dir",
                    path=directory,
                    root=str(host.root),
                    original=None,
                    boot_id=boot_id,
                ),
                intended="present",
            )
            host.path(directory).mkdir(mode=0o755)
    current = _read_bytes(host, absolute)
    mode = stat.S_IMODE(target.stat().st_mode) if current is not None else None
    journal.remember(
        RollbackEntry(
            id=f"file:{absolute}",
            kind="file",
            path=absolute,
            root=str(host.root),
            original=None if current is None else base64.b64encode(current).decode(),
            mode=mode,
            boot_id=boot_id,
        ),
        intended=ABSENT if content is None else sha256_hex(content),
    )
    if content is None:
        target.unlink(missing_ok=True)
        return
    write_text_atomic(target, content.decode(), mode=mode if mode is not None else 0o644)
