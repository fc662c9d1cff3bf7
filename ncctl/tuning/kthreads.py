"""Moving kernel threads off the isolated CPUs (``[pin] kthreads = true``).

A kernel thread has ``PF_KTHREAD`` in the flags of ``/proc/PID/stat`` (field 9). It can be
moved unless the kernel forbids it (``PF_NO_SETAFFINITY``: per-CPU workers, ``ksoftirqd/N``,
``migration/N``) or it is bound to one CPU (``Cpus_allowed_list`` of ``/proc/PID/status``
names a single CPU: a per-CPU thread). Every other one whose allowed CPUs reach an isolated
CPU is moved to the housekeeping CPUs with ``taskset -pc`` (run as the target system would,
through :class:`ncctl.tuning.host.Host`), at ``tune host`` and at every boot
(``tune reapply``). The moves are not in the rollback journal: kernel threads are created
anew at each boot and a rollback reports what it leaves (the moves of this boot stay until
the next).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ncctl.tuning.cpus import CpuPlan
from ncctl.tuning.cpuset import CpuSet, format_cpulist, parse_cpulist
from ncctl.tuning.host import Host
from ncctl.tuning.pinning import pin_options
from ncctl.tuning.profiles import Profile

PF_KTHREAD = 0x00200000
PF_NO_SETAFFINITY = 0x04000000
MAX_PROCESSES = 65536


@dataclass(frozen=True)
class KernelThread:
    pid: int
    comm: str
    flags: int
    allowed: CpuSet

    @property
    def movable(self) -> bool:
        return not self.flags & PF_NO_SETAFFINITY and len(self.allowed) > 1


@dataclass
class KthreadMoves:
    """What a pass over the kernel threads did."""

    enabled: bool
    moved: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)
    pinned: int = 0
    """Kernel threads left where they are: per-CPU, or the kernel forbids moving them."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "enabled": self.enabled,
            "moved": self.moved,
            "failed": self.failed,
            "per_cpu_left": self.pinned,
        }


def kernel_threads(host: Host, limit: int = MAX_PROCESSES) -> list[KernelThread]:
    """Every kernel thread under the root's /proc (at most ``limit`` processes looked at)."""
    proc = host.path("/proc")
    try:
        names = sorted((p.name for p in proc.iterdir() if p.name.isdigit()), key=int)[:limit]
    except OSError:
        return []
    found: list[KernelThread] = []
    for name in names:
        thread = _read(host, int(name))
        if thread is not None:
            found.append(thread)
    return found


def _read(host: Host, pid: int) -> KernelThread | None:
    stat = host.read(f"/proc/{pid}/stat")
    status = host.read(f"/proc/{pid}/status")
    if stat is None or status is None:
        return None
    open_, close = stat.find("("), stat.rfind(")")
    fields = stat[close + 2 :].split()
    try:
        flags = int(fields[6])
    except (IndexError, ValueError):
        return None
    if open_ < 0 or not flags & PF_KTHREAD:
        return None
    allowed: CpuSet = frozenset()
    for line in status.splitlines():
        key, _, value = line.partition(":")
        if key == "Cpus_allowed_list":
            try:
                allowed = parse_cpulist(value)
            except ValueError:
                return None
    return KernelThread(pid, stat[open_ + 1 : close], flags, allowed)


def move_kthreads(host: Host, profile: Profile, cpus: CpuPlan, contained: bool) -> KthreadMoves:
    """Move every movable kernel thread that may run on an isolated CPU to the housekeeping
    CPUs, when the profile asks (``[pin] kthreads``) and ncctl runs in the host's namespaces
    (``contained``: a container's, whose kernel threads are the host's to move)."""
    result = KthreadMoves(enabled=pin_options(profile).kthreads and not contained)
    if not result.enabled or not cpus.isolated or not cpus.housekeeping:
        return result
    target = format_cpulist(cpus.housekeeping)
    threads = kernel_threads(host)
    result.pinned = sum(1 for t in threads if not t.movable)
    for thread in threads:
        if not (thread.movable and thread.allowed & cpus.isolated):
            continue
        done = host.run(["taskset", "-pc", target, str(thread.pid)])
        row: dict[str, Any] = {
            "pid": thread.pid,
            "comm": thread.comm,
            "from": format_cpulist(thread.allowed),
            "to": target,
        }
        if done.ok:
            result.moved.append(row)
        else:
            result.failed.append({**row, "error": done.said(200)})
    return result


def unmoved(host: Host, cpus: CpuPlan) -> list[KernelThread]:
    """Movable kernel threads that may still run on an isolated CPU."""
    return [t for t in kernel_threads(host) if t.movable and t.allowed & cpus.isolated]
