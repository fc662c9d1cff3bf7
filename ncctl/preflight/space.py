"""Upload destinations and local free space.

Each destination: reachable (SFTP: the pinned host key, key authentication), its directory
present, a probe file written and removed, and free space of at least
``max(preflight.min_free_mb MiB, preflight.free_space_factor x the newest trade date's
archives for it)``; ``file:`` destinations the same with the local file system. Locally, the
file systems holding the archive directories, the live log files and the state directory
need that much for the whole newest day.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterable
from pathlib import Path

from ncctl.errors import NcctlError
from ncctl.preflight.result import CheckResult, Context

LOCAL = "local_space"
MIB = 1024 * 1024
PROBE_PREFIX = ".ncctl-preflight-"


def destination_name(name: str) -> str:
    return f"destination.{name}"


def newest_day_bytes(ctx: Context, destination: str | None = None) -> int:
    """Bytes of the archives of the newest trade date in the upload manifest (those bound for
    ``destination`` when given); 0 without a manifest (nothing is created)."""
    from ncctl.logs.status import newest_day_bytes as recorded

    return recorded(ctx.config.state_dir, destination)


def needed_bytes(ctx: Context, day_bytes: int) -> int:
    settings = ctx.config.preflight
    return max(settings.min_free_mb * MIB, int(settings.free_space_factor * day_bytes))


def _mib(n: int) -> str:
    return f"{n / MIB:.1f} MiB"


def _space_verdict(
    name: str, where: str, free: int | None, need: int, day_bytes: int, *, extra: str = ""
) -> CheckResult:
    if free is None:
        return CheckResult(
            name,
            "warn",
            f"{where}: reachable{extra}, but the server does not report free space "
            "(no statvfs@openssh.com)",
            "ask the server's owner how much room is left",
        )
    detail = (
        f"{where}: {_mib(free)} free{extra}; needs {_mib(need)} (newest day's archives "
        f"{_mib(day_bytes)})"
    )
    if free < need:
        return CheckResult(
            name,
            "fail",
            detail,
            f"free space on {where}, or lower preflight.min_free_mb if the threshold is wrong",
        )
    return CheckResult(name, "ok", detail)


def probe_name() -> str:
    return f"{PROBE_PREFIX}{secrets.token_hex(6)}"


def _local_destination(ctx: Context, name: str, directory: Path) -> CheckResult:
    """A ``file:`` destination: the directory is real, a probe file can be made and removed
    there (not under a simulated clock on a configuration that is not ``dev``: that changes
    nothing), and its file system has room."""
    from ncctl import floor

    check = destination_name(name)
    where = f"destination {name} ({directory})"
    try:
        floor.check_dir(directory, f"destination {name} directory")
        if ctx.live:
            probe = directory / probe_name()
            fd = floor.create_exclusive(probe, what="preflight probe")
            try:
                os.write(fd, b"ncctl preflight probe\n")
            finally:
                os.close(fd)
                floor.remove(probe)
        free = free_bytes(directory)
    except FileNotFoundError:
        return CheckResult(
            check,
            "fail",
            f"{where}: the directory does not exist",
            f"create {directory} (mode 0750, owned by the ncctl user) before the week",
        )
    except OSError as exc:
        return CheckResult(
            check,
            "fail",
            f"{where}: cannot write a file there: {exc.strerror or exc}",
            f"check the permissions and free space of {directory}",
        )
    day = newest_day_bytes(ctx, name)
    probed = ", writable" if ctx.live else ", no probe written (simulated clock)"
    return _space_verdict(check, where, free, needed_bytes(ctx, day), day, extra=probed)


def _sftp_destination(ctx: Context, name: str) -> CheckResult:
    from ncctl.logs.sftp_destination import SftpDestination

    check = destination_name(name)
    dest = SftpDestination(name, ctx.config.destinations[name])
    where = f"destination {name} ({dest.where}:{dest.directory})"
    if not ctx.live:
        return ctx.no_wire(check, where)
    try:
        free = dest.preflight(probe_name())
    except NcctlError as err:
        return CheckResult(check, "fail", err.message, err.hint)
    finally:
        dest.close()
    day = newest_day_bytes(ctx, name)
    return _space_verdict(
        check,
        where,
        free,
        needed_bytes(ctx, day),
        day,
        extra=", host key as pinned, probe written",
    )


def destinations(ctx: Context) -> list[CheckResult]:
    """One result per configured destination, in name order."""
    from ncctl.logs.url import parse_destination_url

    out: list[CheckResult] = []
    for name in sorted(ctx.config.destinations):
        url = ctx.config.destinations[name].url
        try:
            if url.startswith("sftp://"):
                out.append(_sftp_destination(ctx, name))
            else:
                out.append(_local_destination(ctx, name, Path(parse_destination_url(url).path)))
        except NcctlError as err:  # this destination fails; the others are still checked
            out.append(CheckResult(destination_name(name), "fail", err.message, err.hint))
    return out


def _existing(path: Path) -> Path:
    """``path`` or its nearest existing ancestor (a directory not made yet will be made on
    the file system of its parent)."""
    current = path.absolute()
    for _ in range(256):  # bounded: a path has fewer components than that
        if current.exists() or current.parent == current:
            return current
        current = current.parent
    return current


def free_bytes(path: Path) -> int:
    st = os.statvfs(path)
    return st.f_frsize * st.f_bavail


def local_paths(ctx: Context) -> list[Path]:
    """The directories that grow with a day of logs: archives, live logs, the state."""
    logs = ctx.config.logs
    paths: list[Path] = [logs.archive_dir, ctx.config.state_dir]
    for name, cat in logs.categories().items():
        paths += [logs.archive_for(name), Path(cat.path).parent]
    return paths


def _by_file_system(paths: Iterable[Path]) -> dict[int, list[Path]]:
    groups: dict[int, list[Path]] = {}
    for path in paths:
        found = _existing(path)
        members = groups.setdefault(found.stat().st_dev, [])
        if found not in members:
            members.append(found)
    return groups


def local_space(ctx: Context) -> CheckResult:
    """Every local file system holding logs, archives or the state has room for a day."""
    day = newest_day_bytes(ctx)
    need = needed_bytes(ctx, day)
    short: list[str] = []
    seen: list[str] = []
    for members in _by_file_system(local_paths(ctx)).values():
        free = free_bytes(members[0])
        names = ", ".join(str(p) for p in members)
        seen.append(f"{names}: {_mib(free)} free")
        if free < need:
            short.append(f"{names} ({_mib(free)} free)")
    if short:
        return CheckResult(
            LOCAL,
            "fail",
            f"less than {_mib(need)} free (a day of logs: newest day's archives "
            f"{_mib(day)}) on {'; '.join(short)}",
            "free space there (`ncctl logs status` shows the archives kept), or lower "
            "preflight.min_free_mb if the threshold is wrong",
        )
    return CheckResult(LOCAL, "ok", f"needs {_mib(need)}; " + "; ".join(seen))
