"""The boot loader that stages kernel parameters for the next boot, as found under the root:

* ``grubby`` (Fedora, RHEL): ``grubby --update-kernel=ALL --args=...`` and, to undo,
  ``--remove-args=NAME`` or the original ``--args=NAME=VALUE``;
* ``update-grub`` (Debian, Ubuntu): a drop-in ``/etc/default/grub.d/99-ncctl.cfg`` that
  appends to ``GRUB_CMDLINE_LINUX``, then ``update-grub``. ncctl never edits ``grub.cfg``
  or ``/etc/default/grub``.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import Any

from ncctl.tuning.host import Host
from ncctl.tuning.rollback_journal import sha256_hex

DROPIN = "/etc/default/grub.d/99-ncctl.cfg"


def parse_cmdline(tokens: list[str]) -> dict[str, str | None]:
    """Kernel parameters by name (the last one wins, as for most parameters); a flag
    without ``=`` has the value None."""
    found: dict[str, str | None] = {}
    for token in tokens:
        name, sep, value = token.partition("=")
        found[name] = value if sep else None
    return found


@dataclass
class Staged:
    """What the boot loader will pass at the next boot, as far as ncctl can tell."""

    params: dict[str, str | None]
    confirmed: bool
    detail: str = ""


@dataclass
class StageOutcome:
    ok: bool
    message: str
    record: dict[str, Any] = field(default_factory=dict)


class GrubDropIn:
    """``/etc/default/grub.d/99-ncctl.cfg`` + ``update-grub`` (Debian family)."""

    name = "update-grub"
    target = DROPIN

    def __init__(self, host: Host) -> None:
        self.host = host

    @staticmethod
    def render(params: list[str], profile: str) -> str:
        tokens = " ".join(params)
        return (
            f"# Written by `ncctl tune host` for tuning profile {profile}.\n"
            "# `ncctl tune rollback` removes it: change the profile, not this file.\n"
            "# update-grub reads /etc/default/grub.d/*.cfg after /etc/default/grub.\n"
            f'GRUB_CMDLINE_LINUX="${{GRUB_CMDLINE_LINUX}} {tokens}"\n'
        )

    def dropin_params(self) -> dict[str, str | None] | None:
        text = self.host.read(DROPIN)
        if text is None:
            return None
        for line in text.splitlines():
            stripped = line.strip()
            if stripped.startswith("GRUB_CMDLINE_LINUX="):
                try:
                    words = shlex.split(stripped.partition("=")[2])
                except ValueError:
                    return {}
                tokens = " ".join(words).split()
                return parse_cmdline([t for t in tokens if not t.startswith("$")])
        return {}

    def staged(self, record: dict[str, Any]) -> Staged:
        params = self.dropin_params()
        if params is None:
            return Staged({}, confirmed=True, detail=f"{DROPIN} does not exist")
        text = self.host.read(DROPIN) or ""
        confirmed = bool(record.get("updated")) and record.get("dropin_sha256") == sha256_hex(
            text.encode()
        )
        detail = "" if confirmed else "update-grub has not run successfully since it changed"
        return Staged(params, confirmed, detail)

    def regenerate(self) -> StageOutcome:
        result = self.host.run(["update-grub"])
        if not result.ok:
            last = (result.stderr.strip().splitlines() or ["no output"])[-1]
            return StageOutcome(False, f"update-grub failed (exit {result.returncode}): {last}")
        return StageOutcome(True, "update-grub regenerated the boot menu")


class Grubby:
    """``grubby --update-kernel=ALL`` (Fedora/RHEL family)."""

    name = "grubby"
    target = "every kernel entry (grubby --update-kernel=ALL)"

    def __init__(self, host: Host) -> None:
        self.host = host

    def staged(self, record: dict[str, Any]) -> Staged:
        result = self.host.run(["grubby", "--info=DEFAULT"])
        if not result.ok:
            return Staged({}, confirmed=False, detail=f"grubby --info failed: {result.stderr}")
        for line in result.stdout.splitlines():
            if line.startswith("args="):
                raw = line.partition("=")[2].strip().strip('"')
                return Staged(parse_cmdline(raw.split()), confirmed=True)
        return Staged({}, confirmed=True)

    def update(self, args: list[str], remove: list[str]) -> StageOutcome:
        argv = ["grubby", "--update-kernel=ALL"]
        if args:
            argv.append("--args=" + " ".join(args))
        if remove:
            argv.append("--remove-args=" + " ".join(remove))
        result = self.host.run(argv)
        if not result.ok:
            last = (result.stderr.strip().splitlines() or ["no output"])[-1]
            return StageOutcome(False, f"grubby failed (exit {result.returncode}): {last}")
        return StageOutcome(True, "grubby updated every kernel entry")


BootBackend = GrubDropIn | Grubby


def detect_backend(host: Host) -> BootBackend | None:
    """grubby where it exists (it owns the entries there), else update-grub, else None."""
    if host.find_command("grubby"):
        return Grubby(host)
    if host.find_command("update-grub"):
        return GrubDropIn(host)
    return None
