"""The host being tuned, seen through a root directory and a command runner.

Every kernel file (``/proc``, ``/sys``), configuration file (``/etc``) and external command
(``update-grub``, ``grubby``) goes through :class:`Host`, so that ``--root DIR`` points all of
them at another tree (a fake one in tests, a mounted image) and tests can record the commands
that cannot run on a development machine. Nothing here prints.
"""

from __future__ import annotations

import errno
import os
import stat
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from ncctl.tuning.cpuset import CpuSet, parse_cpulist

DEFAULT_COMMAND_TIMEOUT_S = 600.0
GLOBAL_NET_SYSCTL = "/proc/sys/net/core/rmem_max"
UNREADABLE = frozenset(
    {
        errno.ENOENT,
        errno.ENOTDIR,
        errno.EISDIR,
        errno.EACCES,
        errno.EPERM,
        errno.EINVAL,
        errno.EIO,
        errno.ENODEV,
        errno.ENXIO,
        errno.EOPNOTSUPP,
    }
)
"""Errors that mean "no value to read here" (absent, not a file, or refused by the kernel)."""


@dataclass(frozen=True)
class CommandResult:
    """What an external command did."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str = ""
    stderr: str = ""

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def said(self, limit: int = 300) -> str:
        """What the command printed about itself: stderr, else stdout, stripped, at most
        ``limit`` characters (for an error message)."""
        return (self.stderr or self.stdout).strip()[:limit]


CommandRunner = Callable[[Sequence[str]], CommandResult]
"""Runs an argv (as the target system would) and reports the outcome; never raises."""


class SubprocessRunner:
    """Runs commands for real: directly for root ``/``, through ``chroot ROOT`` otherwise."""

    def __init__(self, root: Path, timeout_s: float = DEFAULT_COMMAND_TIMEOUT_S) -> None:
        self.root = root
        self.timeout_s = timeout_s

    def __call__(self, argv: Sequence[str]) -> CommandResult:
        full = list(argv)
        if self.root.resolve() != Path("/"):
            full = ["chroot", str(self.root), *full]
        try:
            proc = subprocess.run(
                full, capture_output=True, text=True, timeout=self.timeout_s, check=False
            )
        except FileNotFoundError:
            return CommandResult(tuple(argv), 127, "", f"{full[0]}: command not found")
        except subprocess.TimeoutExpired:
            return CommandResult(tuple(argv), 124, "", f"timed out after {self.timeout_s:g} s")
        return CommandResult(tuple(argv), proc.returncode, proc.stdout, proc.stderr)


class Access(StrEnum):
    """Whether a kernel file can be written from here, found without writing it."""

    WRITABLE = "writable"
    MISSING = "missing"
    READ_ONLY_MOUNT = "read-only mount"
    READ_ONLY_MODE = "read-only file mode"
    NOT_OURS = "not writable by this user"
    ROOT_ONLY = "writable by root only"


@dataclass(frozen=True)
class NamespaceContext:
    """Where this process runs: the host's namespaces, or a container's own.

    ``own_netns`` is True when our network namespace differs from PID 1's (or, when PID 1's
    is unreadable, when the kernel shows its global net sysctls read-only, as it does outside
    the initial namespace), None when neither can be told. ``userns`` is
    True in a user namespace (``/proc/self/uid_map`` is not the identity map).
    """

    own_netns: bool | None
    userns: bool

    @property
    def contained(self) -> bool:
        """Whether a host-wide change made from here would reach past this container."""
        return bool(self.own_netns) or self.userns

    def describe(self) -> str:
        if self.userns:
            return "a user namespace (unprivileged container)"
        if self.own_netns:
            return "its own network namespace (a container)"
        if self.own_netns is None:
            return "a network namespace that cannot be compared with PID 1's"
        return "the host's namespaces"

    def as_dict(self) -> dict[str, object]:
        return {
            "own_netns": self.own_netns,
            "userns": self.userns,
            "contained": self.contained,
            "description": self.describe(),
        }


@dataclass
class Host:
    """A root directory plus a command runner: the whole view of the machine being tuned."""

    root: Path
    runner: CommandRunner | None = None

    def __post_init__(self) -> None:
        self.root = Path(self.root).absolute()

    @property
    def is_live(self) -> bool:
        """Whether the root is this machine's own ``/``."""
        return self.root == Path("/")

    def path(self, absolute: str) -> Path:
        """The file that ``absolute`` (such as ``/proc/cmdline``) is under the root."""
        return self.root / absolute.lstrip("/")

    def read(self, absolute: str) -> str | None:
        """A file's text, or None when it does not exist (or is unreadable: EACCES, EPERM)."""
        try:
            return self.path(absolute).read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            if exc.errno in UNREADABLE:
                return None
            raise

    def write(self, absolute: str, text: str) -> None:
        """Write a kernel file in one ``write`` (OSError passes through for the caller)."""
        fd = os.open(self.path(absolute), os.O_WRONLY | os.O_TRUNC)
        try:
            data = (text + "\n").encode()
            os.write(fd, data)
        finally:
            os.close(fd)

    def exists(self, absolute: str) -> bool:
        return self.path(absolute).exists()

    def access(self, absolute: str) -> Access:
        """Whether ``absolute`` can be written, from mount flags, file mode and ownership."""
        target = self.path(absolute)
        try:
            st = target.stat()
        except OSError:
            return Access.MISSING
        try:
            if os.statvfs(target).f_flag & os.ST_RDONLY:
                return Access.READ_ONLY_MOUNT
        except OSError:
            pass
        if not st.st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH):
            return Access.READ_ONLY_MODE
        if not os.access(target, os.W_OK):
            # root's own kernel file, seen by another user (ncctl's dedicated one): root can
            # change it, so it is drift to `ncctl tune host` (which runs as root)
            root_writable = st.st_uid == 0 and st.st_mode & stat.S_IWUSR
            return Access.ROOT_ONLY if root_writable and os.geteuid() != 0 else Access.NOT_OURS
        return Access.WRITABLE

    def mode_of(self, absolute: str) -> str:
        try:
            st = self.path(absolute).stat()
        except OSError:
            return "?"
        return f"{stat.S_IMODE(st.st_mode):04o}, owner {st.st_uid}"

    def boot_id(self) -> str | None:
        text = self.read("/proc/sys/kernel/random/boot_id")
        return text.strip() if text else None

    def cmdline_tokens(self) -> list[str]:
        """Kernel parameters of this boot: ``/proc/cmdline`` split, up to ``--`` (after it
        come the init's arguments, which the kernel does not interpret)."""
        text = self.read("/proc/cmdline") or ""
        tokens: list[str] = []
        for word in text.split():
            if word == "--":
                break
            tokens.append(word)
        return tokens

    def online_cpus(self) -> CpuSet:
        text = self.read("/sys/devices/system/cpu/online")
        if text is None:
            return frozenset()
        try:
            return parse_cpulist(text)
        except ValueError:
            return frozenset()

    def context(self) -> NamespaceContext:
        """Compare our namespaces with PID 1's, through the root's /proc."""
        ours = _readlink(self.path("/proc/self/ns/net"))
        init = _readlink(self.path("/proc/1/ns/net"))
        own_netns = None if ours is None or init is None else ours != init
        if own_netns is None:
            own_netns = self._netns_from_global_sysctl()
        uid_map = self.read("/proc/self/uid_map")
        userns = False
        if uid_map is not None:
            fields = uid_map.split()
            userns = fields[:3] != ["0", "0", "4294967295"] and bool(fields)
        return NamespaceContext(own_netns, userns)

    def _netns_from_global_sysctl(self) -> bool | None:
        """When PID 1's namespace is unreadable: the kernel shows the init namespace's
        global net sysctls (``net.core.rmem_max``) read-only (0444) in every other network
        namespace, and writable for root in the init namespace."""
        try:
            st = self.path(GLOBAL_NET_SYSCTL).stat()
        except OSError:
            return None
        return not st.st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)

    def find_command(self, name: str) -> str | None:
        """The path of command ``name`` under the root (as the target sees it), or None."""
        for directory in ("/usr/sbin", "/sbin", "/usr/bin", "/bin"):
            candidate = f"{directory}/{name}"
            target = self.path(candidate)
            if target.is_file() and os.access(target, os.X_OK):
                return candidate
        return None

    def run(self, argv: Sequence[str]) -> CommandResult:
        runner = self.runner or SubprocessRunner(self.root)
        return runner(argv)

    def display(self, absolute: str) -> str:
        """How a path is shown: as the target sees it, with the root when it is not ``/``."""
        return absolute if self.is_live else f"{absolute} (under {self.root})"

    def processes_named(self, name: str, limit: int = 65536) -> list[int]:
        """PIDs whose ``comm`` is ``name`` under the root's /proc (bounded scan)."""
        found: list[int] = []
        proc = self.path("/proc")
        try:
            entries = os.scandir(proc)
        except OSError:
            return found
        with entries:
            for count, entry in enumerate(entries):
                if count >= limit:
                    break
                if not entry.name.isdigit():
                    continue
                try:
                    comm = Path(entry.path, "comm").read_text(encoding="utf-8").strip()
                except OSError:
                    continue
                if comm == name:
                    found.append(int(entry.name))
        return found


def _readlink(path: Path) -> str | None:
    try:
        return str(path.readlink())
    except OSError:
        return None
