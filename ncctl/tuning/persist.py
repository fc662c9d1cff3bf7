"""Persistence without a daemon: files the system applies at every boot.

* sysctl values go to ``/etc/sysctl.d/99-ncctl.conf`` (``systemd-sysctl`` or ``procps``
  applies it at boot, in containers too);
* sysfs values (THP, huge pages, governors, workqueue masks, the default IRQ mask) go to
  ``/etc/tmpfiles.d/ncctl-tuning.conf`` as ``w PATH - - - - VALUE`` lines
  (``systemd-tmpfiles --create`` writes them at boot);
* boot parameters persist in the boot loader (:mod:`ncctl.tuning.kinds.boot`), and IRQ affinity
  through ``irqaffinity=`` (IRQ numbers change between boots).

Only settings that can be changed from here are persisted: a host-wide value is never
written into a container's files. Every file (and directory) is written by
:mod:`ncctl.tuning.files`, which records its previous content in the rollback journal first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ncctl.tuning.files import read_bytes
from ncctl.tuning.kinds.base import Finding, KernelSetting, Persistence, Scope, Verdict

if TYPE_CHECKING:
    from ncctl.tuning.host import Host, NamespaceContext

SYSCTL_FILE = "/etc/sysctl.d/99-ncctl.conf"
TMPFILES_FILE = "/etc/tmpfiles.d/ncctl-tuning.conf"


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
                path, label, read_bytes(host, path), text.encode() if text is not None else None
            )
        )
    return changes
