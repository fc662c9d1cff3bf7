"""The configuration files of pinning (:mod:`ncctl.tuning.pinning`), planned beside the
sysctl.d and tmpfiles.d files and written, journaled and rolled back the same way
(:mod:`ncctl.tuning.files`):

* ``/etc/default/irqbalance`` with ``IRQBALANCE_BANNED_CPULIST=`` the isolated CPUs
  (``[pin] irqbalance = "ban"``): one key set, every other line kept; irqbalance reads it
  when it starts (the file is the ``EnvironmentFile=`` of Debian's and Red Hat's units), so
  ``tune host`` restarts a running irqbalance after writing it; at boot it starts with it;
* ``/etc/systemd/system.conf.d/ncctl-cpuaffinity.conf``: ``[Manager] CPUAffinity=`` the
  housekeeping CPUs (``[pin] systemd_affinity = true``); systemd reads it at boot (or
  ``systemctl daemon-reexec``), and every service it starts inherits it unless its unit says
  otherwise (the components' units do: :mod:`ncctl.install.units`).

Both are host-wide: never planned in a container.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from ncctl.tuning.cpuset import format_cpulist
from ncctl.tuning.files import read_bytes
from ncctl.tuning.persist import FileChange
from ncctl.tuning.pinning import pin_options

if TYPE_CHECKING:
    from ncctl.tuning.cpus import CpuPlan
    from ncctl.tuning.host import Host, NamespaceContext
    from ncctl.tuning.profiles import Profile

IRQBALANCE_FILE = "/etc/default/irqbalance"
BANNED_KEY = "IRQBALANCE_BANNED_CPULIST"
SYSTEMD_AFFINITY_FILE = "/etc/systemd/system.conf.d/ncctl-cpuaffinity.conf"
PIN_FILES = (IRQBALANCE_FILE, SYSTEMD_AFFINITY_FILE)

_ASSIGNMENT = re.compile(rf"^\s*(export\s+)?{BANNED_KEY}=")


def with_banned(text: str, cpus: str) -> str:
    """``text`` (an ``/etc/default/irqbalance``) with ``IRQBALANCE_BANNED_CPULIST=cpus``: the
    first assignment replaced, any later one dropped, or the key added at the end."""
    lines = text.splitlines()
    line = f"{BANNED_KEY}={cpus}"
    out: list[str] = []
    placed = False
    for old in lines:
        if _ASSIGNMENT.match(old):
            if not placed:
                out.append(line)
                placed = True
            continue
        out.append(old)
    if not placed:
        out += ["# isolated CPUs, kept free of IRQs: set by `ncctl tune host`", line]
    return "\n".join(out) + "\n"


def pin_files(
    host: Host, profile: Profile, cpus: CpuPlan, ctx: NamespaceContext
) -> list[FileChange]:
    """The pinning files ``profile`` asks for on this host (none in a container)."""
    if ctx.contained:
        return []
    options = pin_options(profile)
    changes: list[FileChange] = []
    if options.irqbalance == "ban" and cpus.isolated:
        current = read_bytes(host, IRQBALANCE_FILE)
        text = (current or b"").decode("utf-8", errors="replace")
        desired = with_banned(text, format_cpulist(cpus.isolated)).encode()
        changes.append(
            FileChange(IRQBALANCE_FILE, "irqbalance keeps off the isolated CPUs", current, desired)
        )
    wanted = None
    if options.systemd_affinity and cpus.housekeeping:
        wanted = (
            f"# Written by `ncctl tune host` for tuning profile {profile.name}; systemd reads "
            "it at boot.\n# `ncctl tune rollback` removes it: change the profile, not this "
            f"file.\n[Manager]\nCPUAffinity={format_cpulist(cpus.housekeeping).replace(',', ' ')}\n"
        ).encode()
    current = read_bytes(host, SYSTEMD_AFFINITY_FILE)
    if wanted is not None or current is not None:
        changes.append(
            FileChange(SYSTEMD_AFFINITY_FILE, "systemd's own CPUs: housekeeping", current, wanted)
        )
    return changes
