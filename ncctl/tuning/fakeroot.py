"""The fake root that a development configuration tunes instead of this machine.

``configs/dev.toml`` sets ``[tuning] root = ".ncctl/fakeroot"``: ``ncctl tune`` on a dev
configuration works on a directory ncctl makes itself, never on ``/``. When that directory
is missing, :func:`prepare` creates it (mode 0700) holding what the profile reads: every
kernel file of its settings, copied from this machine's /proc and /sys (which are only read),
and what the tuner asks of the host it tunes (boot id, kernel command line, online CPUs
with their SMT siblings, NUMA nodes and NICs' nodes, the user and network namespaces: the
fake root is a host of its own, not a container, so every setting can be applied to it).
The marker file is written first, so that a run interrupted
half-way is completed by the next one: for a fake root with the marker (or an empty
directory), whatever the profile needs and the root lacks is added, and nothing present is
ever changed. A directory with other content and no marker is somebody else's: it is left as
it is.

Nothing is followed through a symbolic link: files are created ``O_EXCL | O_NOFOLLOW`` and
the only links in the tree are the two namespace links ncctl writes itself.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ncctl.errors import CantCreateError, DataError
from ncctl.tuning.host import Host
from ncctl.tuning.profiles import Profile
from ncctl.tuning.section import TuningConfig

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


def uses_fake_root(environment: str, tuning: TuningConfig) -> bool:
    """Whether ``tuning.root`` is a fake root ncctl may create: a dev configuration (by its
    ``environment``) whose root is not this machine's ``/``."""
    return environment == "dev" and tuning.root.absolute() != Path("/")


def needed_files(profile: Profile, live: Host) -> list[str]:
    """The absolute paths (``/proc/...``, ``/sys/...``) that planning ``profile`` reads."""
    from ncctl.tuning.plan import expand
    from ncctl.tuning.topology import topology_files

    paths = [*COPIED, *topology_files(live)]
    for setting in expand(profile, live).settings:
        paths.append(setting.path)
        if setting.path.endswith("/scaling_governor"):
            paths.append(setting.path.replace("scaling_governor", "scaling_available_governors"))
    return list(dict.fromkeys(paths))


def prepare(root: Path, profile: Profile, live: Host | None = None) -> list[str]:
    """Make the fake root ``root`` for ``profile`` if it is missing, or add what ``profile``
    needs to one ncctl made; the kernel files copied (paths relative to the root). ``live``
    is the host whose current values are copied (this machine's ``/``; only read)."""
    from ncctl.floor import ensure_dir

    live = live or Host(Path("/"))
    root = root.absolute()
    needed = needed_files(profile, live)  # a bad profile fails before anything is made
    try:
        st = os.lstat(root)
    except FileNotFoundError:
        ensure_dir(root.parent, "directory of the tuning root")
        try:
            root.mkdir(mode=DIR_MODE)
        except OSError as exc:
            raise _cannot(root, exc) from None
    except OSError as exc:
        raise _cannot(root, exc) from None
    else:
        if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
            raise DataError(
                f"tuning root {root} is not a directory (ncctl follows no links here)",
                hint=f"remove {root}; ncctl makes a fake root there for a dev configuration",
                code="tuning.root_not_directory",
            )
        if not os.path.lexists(root / MARKER) and any(root.iterdir()):
            return []  # somebody's own tree
    try:
        return _complete(root, needed, live)
    except OSError as exc:
        raise _cannot(root, exc) from None


def _complete(root: Path, needed: list[str], live: Host) -> list[str]:
    """Add to ``root`` what it lacks: the marker first (so that an interrupted run is
    completed by the next one), the host's context, then each of ``needed`` copied from
    ``live`` (what ``live`` cannot show is left out: the plan then says the setting is
    unsupported here). Nothing present is changed."""
    if not os.path.lexists(root / MARKER):
        _put(root, MARKER, "made by ncctl for a dev configuration: a fake root to tune\n")
    if not os.path.lexists(root / "proc/self/uid_map"):
        _put(root, "proc/self/uid_map", HOST_UID_MAP)
    for link in NS_LINKS:
        if not os.path.lexists(root / link):
            _mkdirs(root, (root / link).parent)
            (root / link).symlink_to(NET_NAMESPACE)
    _mkdirs(root, root / "etc")
    created: list[str] = []
    for absolute in needed:
        rel = absolute.lstrip("/")
        if os.path.lexists(root / rel):
            continue
        text = live.read(absolute)
        if text is not None:
            _put(root, rel, text)
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
    from ncctl.floor import create_exclusive

    path = root / rel
    _mkdirs(root, path.parent)
    fd = create_exclusive(path, what="fake root file", mode=FILE_MODE)
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
