"""The fake root that a development configuration tunes instead of this machine.

``configs/dev.toml`` sets ``[tuning] root = ".ncctl/fakeroot"``: ``ncctl tune`` on a dev
configuration works on a directory ncctl makes itself, never on ``/``. When that directory
is missing, :func:`prepare` creates it (mode 0700) holding what the profile reads: every
kernel file of its settings, copied from this machine's /proc and /sys (which are only read),
and what the tuner asks of the host it tunes (boot id, kernel command line, online CPUs, the
user and network namespaces: the fake root is a host of its own, not a container, so every
setting can be applied to it). It is built beside its final name and renamed into place, so
it is whole or absent. A fake root ncctl made carries a marker file; for such a root, files a
further profile needs are added (none is ever changed). A directory without the marker is
somebody else's: it is left as it is.

Nothing is followed through a symbolic link: files are created ``O_EXCL | O_NOFOLLOW`` and
the only links in the tree are the two namespace links ncctl writes itself.
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

from ncctl.config import NcctlConfig
from ncctl.errors import CantCreateError, DataError
from ncctl.tuning.host import Host
from ncctl.tuning.profiles import Profile

MARKER = ".ncctl-fakeroot"
"""Present at the top of every fake root ncctl made (and only there)."""
COPIED = (
    "/proc/sys/kernel/random/boot_id",
    "/proc/cmdline",
    "/sys/devices/system/cpu/online",
)
"""What the tuner reads of any host, copied from this machine."""
HOST_UID_MAP = "         0          0 4294967295\n"
"""The initial user namespace's map: the fake root is not a container."""
NET_NAMESPACE = "net:[4026531840]"
"""One network namespace for PID 1 and ncctl: the fake root is not a container."""
NS_LINKS = ("proc/self/ns/net", "proc/1/ns/net")
DIR_MODE = 0o700
FILE_MODE = 0o600


def uses_fake_root(config: NcctlConfig) -> bool:
    """Whether ``tuning.root`` of ``config`` is a fake root ncctl may create: a dev
    configuration whose root is not this machine's ``/``."""
    return config.environment == "dev" and config.tuning.root.absolute() != Path("/")


def needed_files(profile: Profile, live: Host) -> list[str]:
    """The absolute paths (``/proc/...``, ``/sys/...``) that planning ``profile`` reads."""
    from ncctl.tuning.settings import expand

    paths = list(COPIED)
    for setting in expand(profile, live).settings:
        paths.append(setting.path)
        if setting.path.endswith("/scaling_governor"):
            paths.append(setting.path.replace("scaling_governor", "scaling_available_governors"))
    return list(dict.fromkeys(paths))


def prepare(root: Path, profile: Profile, live: Host | None = None) -> list[str]:
    """Make the fake root ``root`` for ``profile`` if it is missing, or add what ``profile``
    needs to one ncctl made; the paths created (relative to the root). ``live`` is the host
    whose current values are copied (this machine's ``/``; only read)."""
    live = live or Host(Path("/"))
    root = root.absolute()
    try:
        st = os.lstat(root)
    except FileNotFoundError:
        return _create(root, profile, live)
    except OSError as exc:
        raise _cannot(root, exc) from None
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        raise DataError(
            f"tuning root {root} is not a directory (ncctl follows no links here)",
            hint=f"remove {root}; ncctl makes a fake root there for a dev configuration",
            code="tuning.root_not_directory",
        )
    if not os.path.lexists(root / MARKER):
        return []  # somebody's own tree
    return _fill(root, needed_files(profile, live), live)


def _create(root: Path, profile: Profile, live: Host) -> list[str]:
    from ncctl.floor import ensure_dir, temp_name

    needed = needed_files(profile, live)  # a bad profile fails before anything is made
    ensure_dir(root.parent, "directory of the tuning root")
    build = temp_name(root)
    try:
        build.mkdir(mode=DIR_MODE)
        _put(build, MARKER, "made by ncctl for a dev configuration: a fake root to tune\n")
        _put(build, "proc/self/uid_map", HOST_UID_MAP)
        for link in NS_LINKS:
            _mkdirs(build, (build / link).parent)
            (build / link).symlink_to(NET_NAMESPACE)
        _mkdirs(build, build / "etc")
        created = _fill(build, needed, live)
        build.rename(root)
    except OSError as exc:
        shutil.rmtree(build, ignore_errors=True)
        raise _cannot(root, exc) from None
    except BaseException:
        shutil.rmtree(build, ignore_errors=True)
        raise
    return created


def _fill(root: Path, needed: list[str], live: Host) -> list[str]:
    """Copy each of ``needed`` that ``root`` lacks from ``live`` (what ``live`` cannot show
    is left out: the plan then says the setting is unsupported here)."""
    created: list[str] = []
    for absolute in needed:
        rel = absolute.lstrip("/")
        if os.path.lexists(root / rel):
            continue
        text = live.read(absolute)
        if text is None:
            continue
        try:
            _put(root, rel, text)
        except OSError as exc:
            raise _cannot(root / rel, exc) from None
        created.append(rel)
    return created


def _mkdirs(root: Path, directory: Path) -> None:
    """Create ``directory`` and its missing parents below ``root``, each 0700 and real (a
    link or file in the way fails with ENOTDIR or EEXIST)."""
    missing: list[Path] = []
    here = directory
    while here != root and not os.path.lexists(here):
        missing.append(here)
        here = here.parent
    for path in reversed(missing):
        path.mkdir(mode=DIR_MODE)
    st = os.lstat(directory)
    if not stat.S_ISDIR(st.st_mode):
        raise NotADirectoryError(20, "not a directory", str(directory))


def _put(root: Path, rel: str, text: str) -> None:
    """A new file ``root/rel`` (its directories made), never through a link."""
    path = root / rel
    _mkdirs(root, path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, FILE_MODE)
    try:
        os.write(fd, text.encode("utf-8", errors="replace"))
    finally:
        os.close(fd)


def _cannot(path: Path, exc: OSError) -> CantCreateError:
    return CantCreateError(
        f"{path}: cannot make the fake tuning root: {exc.strerror}",
        hint="check tuning.root in the configuration and the permissions of its directory",
        code="tuning.fake_root",
    )
