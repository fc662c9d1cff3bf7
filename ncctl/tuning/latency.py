"""``force_latency``: holding ``/dev/cpu_dma_latency`` at a value (``[pin] force_latency = N``,
µs), as TuneD's ``force_latency`` does.

The kernel keeps a PM QoS request while a process holds the device open with a value written
to it (a 32-bit integer, native byte order); it drops the request when the file is closed.
``ncctl tune hold-latency`` (the command of ``ncctl-latency.service``, generated only when the
profile asks) opens the device, writes the value, and sleeps holding it until SIGTERM or
SIGINT. Reading the device returns the current PM QoS value (the strictest request held), so
``tune verify`` reads it back and reports drift when it is not the profile's value, saying
whether any process holds the device.

Under a root that is not ``/`` (a fake host tree in tests) the device is a regular file: the
holder writes the 4 bytes at offset 0 and verify reads them back; no process is found
holding it unless one has the file open.
"""

from __future__ import annotations

import os
import signal
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ncctl.errors import PermissionDeniedError, UnavailableError
from ncctl.tuning.host import Host
from ncctl.tuning.pinning import pin_options
from ncctl.tuning.profiles import Profile

DEVICE = "/dev/cpu_dma_latency"
_FORMAT = "=i"
MAX_PROCESSES = 65536
MAX_FDS = 4096


@dataclass(frozen=True)
class LatencyCheck:
    """The device against the profile's value (``desired`` None: the profile holds none)."""

    desired: int | None
    current: int | None
    holders: tuple[int, ...]
    problem: str | None = None
    contained: bool = False
    """Seen from a container: the device is the host's (its operator holds it)."""

    @property
    def verdict(self) -> str:
        if self.desired is None:
            return "ok"
        if self.contained:
            return "host-only"
        if self.problem is not None:
            return "unsupported"
        return "ok" if self.current == self.desired else "drift"

    def reason(self) -> str:
        if self.desired is None:
            return "the profile holds no value"
        if self.contained:
            return (
                "host-wide, and ncctl runs in a container: the host's operator holds "
                f"{DEVICE} at {self.desired} µs (ncctl-latency.service on the host)"
            )
        if self.problem is not None:
            return self.problem
        held = (
            f"held by PID {', '.join(map(str, self.holders))}"
            if self.holders
            else "no process holds it"
        )
        if self.current == self.desired:
            return f"{self.current} µs, {held}"
        fix = "" if self.holders else " (start ncctl-latency.service)"
        return f"{self.current} µs, not {self.desired}: {held}{fix}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "device": DEVICE,
            "desired_us": self.desired,
            "current_us": self.current,
            "holders": list(self.holders),
            "verdict": self.verdict,
            "reason": self.reason(),
        }


def check(host: Host, profile: Profile, contained: bool = False) -> LatencyCheck:
    """Read the device back against ``[pin] force_latency`` (``contained``: from a
    container, where it is the host's)."""
    desired = pin_options(profile).force_latency
    if desired is None:
        return LatencyCheck(None, None, ())
    if contained:
        return LatencyCheck(desired, None, (), contained=True)
    try:
        fd = os.open(host.path(DEVICE), os.O_RDONLY | os.O_NOFOLLOW)
        try:
            data = os.read(fd, 4)
        finally:
            os.close(fd)
    except OSError as exc:
        return LatencyCheck(desired, None, (), f"{DEVICE}: {exc.strerror}")
    if len(data) != 4:
        return LatencyCheck(desired, None, (), f"{DEVICE}: read {len(data)} bytes, not 4")
    current = int(struct.unpack(_FORMAT, data)[0])
    return LatencyCheck(desired, current, tuple(holders(host)))


def holders(host: Host) -> list[int]:
    """PIDs under the root's /proc with the device open (bounded scan)."""
    target = str(host.path(DEVICE)) if not host.is_live else DEVICE
    found: list[int] = []
    proc = host.path("/proc")
    try:
        pids = sorted((p.name for p in proc.iterdir() if p.name.isdigit()), key=int)
    except OSError:
        return found
    for name in pids[:MAX_PROCESSES]:
        try:
            fds = sorted((proc / name / "fd").iterdir())[:MAX_FDS]
        except OSError:
            continue
        for fd in fds:
            try:
                link = str(fd.readlink())
            except OSError:
                continue
            if link == target:
                found.append(int(name))
                break
    return found


def hold(host: Host, value: int, ready: Callable[[], None] | None = None) -> int:
    """Open the device, write ``value``, and keep it open until SIGTERM or SIGINT; the signal
    number that ended the hold. Never creates a file and never follows a symbolic link."""
    stop = {signal.SIGTERM, signal.SIGINT}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, stop)
    try:
        try:
            fd = os.open(host.path(DEVICE), os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except PermissionError:
            raise PermissionDeniedError(
                f"{host.display(DEVICE)}: permission denied",
                hint="run it as root (ncctl-latency.service does)",
                code="tune.latency_device",
            ) from None
        except OSError as exc:
            raise UnavailableError(
                f"{host.display(DEVICE)}: cannot open: {exc.strerror}",
                hint="this kernel has no PM QoS device; leave [pin] force_latency out",
                code="tune.latency_device",
            ) from None
        try:
            os.write(fd, struct.pack(_FORMAT, value))
            if ready is not None:
                ready()
            return signal.sigwait(stop)
        finally:
            os.close(fd)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
